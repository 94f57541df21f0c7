import path from 'node:path';
import type { Config } from './schema.js';

/**
 * Resolves a path-valued key: empty stays empty (the feature is off), absolute stays as is,
 * anything else is relative to the config dir.
 */
export function resolveConfigPath(configDir: string, value: string): string {
  if (value === '') return '';
  return path.resolve(configDir, value);
}

/** Every path-valued key of `config`, resolved against `configDir`. */
export interface ResolvedPaths {
  hostKeys: string[];
  loginBannerFile: string;
  /** The sqlite database file; empty for drivers that have no file. */
  databaseFile: string;
  templatesPath: string;
  staticFilesPath: string;
  backupsPath: string;
}

export function resolveConfigPaths(configDir: string, config: Config): ResolvedPaths {
  const resolve = (value: string): string => resolveConfigPath(configDir, value);
  const provider = config.data_provider;
  return {
    hostKeys: config.sftpd.keys.map((key) => resolve(key.private_key)),
    loginBannerFile: resolve(config.sftpd.login_banner_file),
    databaseFile: provider.driver === 'sqlite' ? resolve(provider.name) : '',
    templatesPath: resolve(config.httpd.templates_path),
    staticFilesPath: resolve(config.httpd.static_files_path),
    backupsPath: resolve(config.httpd.backups_path),
  };
}
