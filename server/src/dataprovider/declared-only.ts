/**
 * What TypeBox's `Value.Clean` does, for the plain JSON schemas the server keeps instead of
 * TypeBox's: properties an object schema does not declare are dropped, at every depth.
 */
import type { SchemaObject } from 'ajv';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` with only what `schema` declares; a copy, the input is left as it was. */
export function declaredOnly(schema: SchemaObject, value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = schema.items as SchemaObject | undefined;
    return (value as unknown[]).map((item) =>
      items === undefined ? item : declaredOnly(items, item),
    );
  }
  if (!isObject(value) || schema.type !== 'object') return value;
  const properties = (schema.properties ?? {}) as Record<string, SchemaObject>;
  const additional = schema.additionalProperties as SchemaObject | boolean | undefined;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const declared = properties[key] ?? (isObject(additional) ? additional : undefined);
    if (declared !== undefined) out[key] = declaredOnly(declared, child);
  }
  return out;
}
