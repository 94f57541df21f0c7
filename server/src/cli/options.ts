/**
 * `kubesftp serve` flags. Each flag has an env variable that applies when the flag is not
 * given; one table drives the commander options, the env fallback and the help text.
 */
import { InvalidArgumentError } from 'commander';

export interface ServeOptions {
  configDir: string;
  /** Bare config file name, looked up with each supported extension in configDir. */
  configFile: string;
  /** Log file; empty logs to stderr. */
  logFilePath: string;
  /** MB at which the log file rotates. */
  logMaxSize: number;
  logMaxBackups: number;
  /** Days rotated logs are kept. */
  logMaxAge: number;
  logCompress: boolean;
  logVerbose: boolean;
}

export function parseBool(raw: string): boolean {
  const word = raw.trim().toLowerCase();
  if (word === '1' || word === 'true') return true;
  if (word === '0' || word === 'false') return false;
  throw new InvalidArgumentError('expected 1, true, 0 or false');
}

export function parseNonNegativeInt(raw: string): number {
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isInteger(value) || value < 0) {
    throw new InvalidArgumentError('expected a whole number >= 0');
  }
  return value;
}

type FlagValue = string | number | boolean;

export interface ServeFlag {
  /** commander flag syntax. */
  flags: string;
  /** camelCase attribute commander stores the value under. */
  attribute: string;
  env: string;
  description: string;
  defaultValue: FlagValue;
  parse?: (raw: string) => FlagValue;
}

export const SERVE_FLAGS: readonly ServeFlag[] = [
  {
    flags: '--config-dir <dir>',
    attribute: 'configDir',
    env: 'KUBESFTP_CONFIG_DIR',
    description: 'directory holding the config file; base of relative paths in it',
    defaultValue: '.',
  },
  {
    flags: '--config-file <name>',
    attribute: 'configFile',
    env: 'KUBESFTP_CONFIG_FILE',
    description: 'config file name without extension (.json, .yaml, .yml, .toml or .env is added)',
    defaultValue: 'kubesftp',
  },
  {
    flags: '--log-file-path <path>',
    attribute: 'logFilePath',
    env: 'KUBESFTP_LOG_FILE_PATH',
    description: 'log file; "" logs to stderr',
    defaultValue: 'kubesftp.log',
  },
  {
    flags: '--log-max-size <MB>',
    attribute: 'logMaxSize',
    env: 'KUBESFTP_LOG_MAX_SIZE',
    description: 'size in MB at which the log file is rotated',
    defaultValue: 10,
    parse: parseNonNegativeInt,
  },
  {
    flags: '--log-max-backups <count>',
    attribute: 'logMaxBackups',
    env: 'KUBESFTP_LOG_MAX_BACKUPS',
    description: 'rotated log files kept; 0 keeps all',
    defaultValue: 5,
    parse: parseNonNegativeInt,
  },
  {
    flags: '--log-max-age <days>',
    attribute: 'logMaxAge',
    env: 'KUBESFTP_LOG_MAX_AGE',
    description: 'days rotated log files are kept; 0 keeps them forever',
    defaultValue: 28,
    parse: parseNonNegativeInt,
  },
  {
    flags: '--log-compress [bool]',
    attribute: 'logCompress',
    env: 'KUBESFTP_LOG_COMPRESS',
    description: 'gzip rotated log files (1, true, 0, false)',
    defaultValue: false,
    parse: parseBool,
  },
  {
    flags: '--log-verbose [bool]',
    attribute: 'logVerbose',
    env: 'KUBESFTP_LOG_VERBOSE',
    description: 'include debug lines (1, true, 0, false)',
    defaultValue: true,
    parse: parseBool,
  },
];

/** Turns commander's parsed attributes into the typed options runServe takes. */
export function toServeOptions(values: Record<string, FlagValue>): ServeOptions {
  return {
    configDir: String(values.configDir),
    configFile: String(values.configFile),
    logFilePath: String(values.logFilePath),
    logMaxSize: Number(values.logMaxSize),
    logMaxBackups: Number(values.logMaxBackups),
    logMaxAge: Number(values.logMaxAge),
    logCompress: values.logCompress === true,
    logVerbose: values.logVerbose === true,
  };
}
