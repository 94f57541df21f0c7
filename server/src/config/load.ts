/**
 * Loads the configuration: defaults, then the config file (if any), then env overrides, then
 * validation. Env overrides apply with or without a config file.
 */
import path from 'node:path';
import { applyEnvOverrides, type EnvOrigins } from './env.js';
import { findConfigFile, parseConfigFile } from './formats.js';
import { type Config } from './schema.js';
import { validateConfig } from './validate.js';
import { configWarnings, type ConfigWarning } from './warnings.js';

export interface LoadConfigOptions {
  configDir: string;
  /** Bare file name; `<configFile>.json|yaml|yml|toml|env` is looked up in configDir. */
  configFile?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

export interface LoadedConfig {
  config: Config;
  /** Absolute config dir: the base for every relative path in the config. */
  configDir: string;
  /** The file that was read, or undefined when only defaults and env were used. */
  configFilePath: string | undefined;
  /** Deprecated or not-yet-enforced keys that were set; log one warn line each. */
  warnings: ConfigWarning[];
}

export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig> {
  const configDir = path.resolve(options.configDir);
  const ref = await findConfigFile(configDir, options.configFile ?? 'kubesftp');
  const parsed =
    ref === undefined ? { tree: {}, origins: new Map() as EnvOrigins } : await parseConfigFile(ref);
  const envOrigins = applyEnvOverrides(parsed.tree, options.env ?? process.env);
  const origins = new Map([...parsed.origins, ...envOrigins]);
  const config = validateConfig(parsed.tree, origins);
  return { config, configDir, configFilePath: ref?.filePath, warnings: configWarnings(config) };
}
