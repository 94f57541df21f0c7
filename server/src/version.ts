/**
 * The version string: package version plus the commit and build date embedded at build time
 * in dist/build-info.json (written by scripts/write-build-info.js after tsc).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  commit: string;
  /** Build date as YYYYMMDD (UTC). */
  date: string;
}

/** dist/server/src/version.js -> repository root. */
const ROOT_URL = new URL('../../../', import.meta.url);
const BUILD_INFO_URL = new URL('dist/build-info.json', ROOT_URL);

function readJson(url: URL): unknown {
  try {
    return JSON.parse(readFileSync(url, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function isBuildInfo(value: unknown): value is BuildInfo {
  const info = value as Partial<BuildInfo> | undefined;
  return typeof info?.commit === 'string' && typeof info.date === 'string';
}

export const VERSION = (readJson(new URL('package.json', ROOT_URL)) as { version: string }).version;

/** The embedded build info, or undefined when run from a tree that was not built with it. */
export function readBuildInfo(url: URL = BUILD_INFO_URL): BuildInfo | undefined {
  const info = readJson(url);
  return isBuildInfo(info) ? info : undefined;
}

/** `0.1.0-<shortcommit>-<date>`; just the package version when there is no build info (null). */
export function versionString(info: BuildInfo | null = readBuildInfo() ?? null): string {
  if (info === null) return VERSION;
  return [VERSION, info.commit, info.date].filter((part) => part !== '').join('-');
}

function currentCommit(cwd: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
  } catch {
    // A source tarball has no git metadata; the version then carries only the date.
    return '';
  }
}

/** Writes dist/build-info.json from git and the clock; called once per build. */
export function writeBuildInfo(now: Date = new Date(), url: URL = BUILD_INFO_URL): BuildInfo {
  const info: BuildInfo = {
    commit: currentCommit(fileURLToPath(ROOT_URL)),
    date: now.toISOString().slice(0, 10).replace(/-/g, ''),
  };
  writeFileSync(url, `${JSON.stringify(info)}\n`);
  return info;
}
