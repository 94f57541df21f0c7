/**
 * Finds the test bed binaries that setup.sh built. The versions come from versions.env, the
 * one place they are pinned, so a version bump can never run against a stale binary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';

export type TestbedBinary = 'etcd' | 'kube-apiserver' | 'helm' | 'minio';

const versionKeys: Record<TestbedBinary, string> = {
  etcd: 'ETCD_VERSION',
  'kube-apiserver': 'KUBE_VERSION',
  helm: 'HELM_VERSION',
  minio: 'MINIO_VERSION',
};

/** The repository root: compiled code runs from dist/, while versions.env and fixtures stay in the tree. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'test', 'env', 'versions.env'))) {
    const parent = dirname(dir);
    if (parent === dir) {
      throw new KubesftpError(
        ErrorCode.NOT_FOUND,
        `test/env/versions.env not found above ${fileURLToPath(import.meta.url)}`,
      );
    }
    dir = parent;
  }
  return dir;
}

export function versionsFilePath(): string {
  return join(repoRoot(), 'test', 'env', 'versions.env');
}

export function readPinnedVersions(path = versionsFilePath()): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(\S+)\s*$/.exec(line);
    if (match) versions[match[1]!] = match[2]!;
  }
  return versions;
}

export function testbedCacheDir(): string {
  return process.env['KUBESFTP_TESTBED_CACHE'] || join(homedir(), '.cache', 'kubesftp-testbed');
}

/** Absolute path of a built binary; throws (never skips) when setup.sh has not built it. */
export function testbedBinary(name: TestbedBinary): string {
  const version = readPinnedVersions()[versionKeys[name]];
  if (version === undefined) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `versions.env does not pin ${versionKeys[name]}`,
    );
  }
  const path = join(testbedCacheDir(), `${name}-${version}`, name);
  if (!existsSync(path)) {
    throw new KubesftpError(
      ErrorCode.NOT_FOUND,
      `${name} ${version} is not built (looked for ${path}); run \`make testbed\` first`,
    );
  }
  return path;
}
