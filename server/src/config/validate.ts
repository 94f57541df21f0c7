/**
 * Validates a config tree against the schema, filling defaults in place, and turns ajv's
 * errors into one message that names each key path and the reason. The validator is ajv's
 * code for the schema, written ahead by `make gen` (precompiled.ts), so neither ajv's
 * compiler nor TypeBox loads in a server.
 */
import type { ErrorObject } from 'ajv';
import { ErrorCode, KubesftpError } from '../errors.js';
import { validateConfigTree } from './config-validator.generated.js';
import type { EnvOrigins } from './env.js';
import type { Config } from './schema.js';

/** `/sftpd/keys/0/private_key` -> `sftpd.keys[0].private_key`. */
export function keyPathOf(instancePath: string, child?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (child !== undefined) parts.push(child);
  return parts
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce(
      (acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
      '',
    );
}

function reasonOf(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') return 'unknown key';
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    return `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return error.message ?? error.keyword;
}

function describe(error: ErrorObject, origins: EnvOrigins): string {
  const extra =
    error.keyword === 'additionalProperties'
      ? (error.params as { additionalProperty: string }).additionalProperty
      : undefined;
  const key = keyPathOf(error.instancePath, extra) || '(root)';
  const envName = origins.get(key.replace(/\[\d+\].*$/, ''));
  const from = envName === undefined ? '' : ` (from ${envName})`;
  return `${key}: ${reasonOf(error)}${from}`;
}

/**
 * Fills defaults into `tree` and checks it. Throws KubesftpError(CONFIG_INVALID) listing every
 * problem as `key.path: reason`.
 */
export function validateConfig(
  tree: Record<string, unknown>,
  origins: EnvOrigins = new Map(),
): Config {
  if (validateConfigTree(tree)) return tree as Config;
  const problems = [...new Set((validateConfigTree.errors ?? []).map((e) => describe(e, origins)))];
  throw new KubesftpError(
    ErrorCode.CONFIG_INVALID,
    `invalid configuration: ${problems.join('; ')}`,
  );
}

/** The configuration with every key at its default. */
export function defaultConfig(): Config {
  return validateConfig({});
}
