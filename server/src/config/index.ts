export {
  ConfigSchema,
  PROVIDER_DRIVERS,
  type Config,
  type SftpdConfig,
  type DataProviderConfig,
  type HttpdConfig,
  type ProviderDriver,
} from './schema.js';
export { loadConfig, type LoadConfigOptions, type LoadedConfig } from './load.js';
export { defaultConfig, validateConfig } from './validate.js';
export { configLeaves, envNameFor, type ConfigLeaf } from './leaves.js';
export { configWarnings, type ConfigWarning } from './warnings.js';
export { resolveConfigPath, resolveConfigPaths, type ResolvedPaths } from './paths.js';
export { effectiveBanner, effectiveMaxAuthTries, umaskValue } from './effective.js';
