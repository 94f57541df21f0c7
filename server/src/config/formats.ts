/**
 * Finds the config file by extension in the config dir and parses it into a plain tree.
 * The env format holds `KUBESFTP_SECTION__KEY=value` lines, coerced like real env variables.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, KubesftpError } from '../errors.js';
import { applyEnvOverrides, isConfigKeyName, type EnvOrigins } from './env.js';

export const CONFIG_EXTENSIONS = ['json', 'yaml', 'yml', 'toml', 'env'] as const;
export type ConfigFormat = (typeof CONFIG_EXTENSIONS)[number];

export interface ConfigFileRef {
  filePath: string;
  format: ConfigFormat;
}

async function listDir(configDir: string): Promise<string[]> {
  try {
    return await readdir(configDir);
  } catch (err) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `config dir ${configDir} cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** The single `<configFile>.<ext>` in `configDir`, undefined if none; two formats is an error. */
export async function findConfigFile(
  configDir: string,
  configFile: string,
): Promise<ConfigFileRef | undefined> {
  if (configFile.includes('/') || path.extname(configFile) !== '') {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `config file "${configFile}" must be a bare name without directory or extension`,
    );
  }
  const names = new Set(await listDir(configDir));
  const found = CONFIG_EXTENSIONS.filter((ext) => names.has(`${configFile}.${ext}`));
  if (found.length > 1) {
    const list = found.map((ext) => `${configFile}.${ext}`).join(', ');
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `more than one config file in ${configDir} (${list}): keep exactly one`,
    );
  }
  const format = found[0];
  return format === undefined
    ? undefined
    : { filePath: path.join(configDir, `${configFile}.${format}`), format };
}

/** Each parser is loaded only for its own format: the yaml package alone is 230 modules. */
async function parseText(text: string, format: ConfigFormat): Promise<unknown> {
  switch (format) {
    case 'json':
      return JSON.parse(text) as unknown;
    case 'yaml':
    case 'yml':
      return (await import('yaml')).parse(text) as unknown;
    case 'toml':
      // smol-toml builds null-prototype objects and Date values; plain JSON data is what we validate.
      return JSON.parse(JSON.stringify((await import('smol-toml')).parse(text))) as unknown;
    case 'env':
      return (await import('dotenv')).parse(text);
  }
}

export interface ParsedConfigFile {
  tree: Record<string, unknown>;
  /** For the env format: which line name set each key. */
  origins: EnvOrigins;
}

/** Reads and parses one config file; syntax errors become CONFIG_INVALID naming the file. */
export async function parseConfigFile(ref: ConfigFileRef): Promise<ParsedConfigFile> {
  let parsed: unknown;
  try {
    parsed = await parseText(await readFile(ref.filePath, 'utf8'), ref.format);
  } catch (err) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${ref.filePath}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  parsed ??= {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${ref.filePath}: must hold a mapping of sections`,
    );
  }
  const record = parsed as Record<string, unknown>;
  if (ref.format !== 'env') return { tree: record, origins: new Map() };
  const tree: Record<string, unknown> = {};
  const origins = applyEnvOverrides(tree, record as Record<string, string>);
  const stray = Object.keys(record).filter((name) => !isConfigKeyName(name));
  if (stray.length > 0) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${ref.filePath}: ${stray.join(', ')} is not a KUBESFTP_SECTION__KEY name`,
    );
  }
  return { tree, origins };
}
