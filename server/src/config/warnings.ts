/**
 * Keys that are accepted but not acted on (deprecated, or their feature is not enforced yet)
 * must never be ignored silently: startup logs one warn line per entry returned here.
 */
import { isDeepStrictEqual } from 'node:util';
import { configLeaves, getAt } from './leaves.js';
import { NOT_ENFORCED } from './choices.js';
import type { Config } from './schema.js';

export interface ConfigWarning {
  key: string;
  reason: 'deprecated' | 'not_enforced';
  message: string;
}

/** Keys set to a non-default value whose setting is deprecated or not enforced yet. */
export function configWarnings(config: Config): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const leaf of configLeaves()) {
    const deprecated = leaf.schema.deprecated === true;
    const notEnforced = leaf.schema[NOT_ENFORCED] === true;
    if (!deprecated && !notEnforced) continue;
    if (isDeepStrictEqual(getAt(config, leaf.path), leaf.schema.default)) continue;
    warnings.push(
      deprecated
        ? {
            key: leaf.key,
            reason: 'deprecated',
            message: `${leaf.key} is deprecated: ${String(leaf.schema.description)}`,
          }
        : {
            key: leaf.key,
            reason: 'not_enforced',
            message: `${leaf.key} is set but not enforced yet`,
          },
    );
  }
  return warnings;
}
