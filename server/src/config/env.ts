/**
 * Env overrides: `KUBESFTP_<SECTION>__<KEY>` (nested structs joined by `__`). Values are
 * coerced by the leaf's schema type; anything that does not coerce is passed through as text
 * so the validator reports it against the key and the variable name.
 */
import { ErrorCode, KubesftpError } from '../errors.js';
import { ENV_PREFIX, configLeaves, setAt, type ConfigLeaf } from './leaves.js';

/** Maps dotted key paths to the env variable that set them, for error messages. */
export type EnvOrigins = Map<string, string>;

const TRUE_WORDS = new Set(['1', 'true']);
const FALSE_WORDS = new Set(['0', 'false']);

function coerceJson(leaf: ConfigLeaf, raw: string): unknown {
  if (raw.trim() === '') return [];
  try {
    return JSON.parse(raw) as unknown;
  } catch (err) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${leaf.key}: ${leaf.envName} must hold a JSON array (${(err as Error).message})`,
      { cause: err },
    );
  }
}

/** Converts one env value to the leaf's type. */
export function coerceEnvValue(leaf: ConfigLeaf, raw: string): unknown {
  switch (leaf.kind) {
    case 'integer':
    case 'number': {
      const trimmed = raw.trim();
      const value = Number(trimmed);
      return trimmed !== '' && Number.isFinite(value) ? value : raw;
    }
    case 'boolean': {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      return FALSE_WORDS.has(word) ? false : raw;
    }
    case 'list':
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    case 'json':
      return coerceJson(leaf, raw);
    case 'string':
      return raw;
  }
}

function leafByEnvName(): Map<string, ConfigLeaf> {
  return new Map(configLeaves().map((leaf) => [leaf.envName, leaf]));
}

/** A config key variable has the prefix and a section separator; CLI variables have none. */
export function isConfigKeyName(name: string): boolean {
  return name.startsWith(ENV_PREFIX) && name.includes('__');
}

/**
 * Applies every `KUBESFTP_*__*` variable in `env` to `tree`. A variable in that form that names
 * no key is an error, so a typo never passes silently.
 */
export function applyEnvOverrides(
  tree: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): EnvOrigins {
  const leaves = leafByEnvName();
  const origins: EnvOrigins = new Map();
  const unknown: string[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !isConfigKeyName(name)) continue;
    const leaf = leaves.get(name);
    if (leaf === undefined) {
      unknown.push(name);
      continue;
    }
    setAt(tree, leaf.path, coerceEnvValue(leaf, raw));
    origins.set(leaf.key, name);
  }
  if (unknown.length > 0) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `unknown config variable ${unknown.sort().join(', ')}: no such key (see docs/config.md)`,
    );
  }
  return origins;
}
