/**
 * Walks the config schema down to its leaves. Env names, env coercion, docs and warnings all
 * use this one list, so a key added to the schema shows up everywhere at once.
 */
import type { SchemaObject } from 'ajv';
import { configSchema } from './config-validator.generated.js';

export const ENV_PREFIX = 'KUBESFTP_';

/** How a leaf's value is written in an env variable. */
export type LeafKind = 'integer' | 'number' | 'boolean' | 'string' | 'list' | 'json';

export interface ConfigLeaf {
  /** Dotted key path, e.g. `sftpd.actions.execute_on`. */
  key: string;
  path: readonly string[];
  envName: string;
  kind: LeafKind;
  schema: SchemaObject;
}

function leafKind(schema: SchemaObject): LeafKind {
  const type = schema.type as string | undefined;
  if (type === 'array') {
    const items = schema.items as SchemaObject | undefined;
    return items?.type === 'object' ? 'json' : 'list';
  }
  if (type === 'integer' || type === 'number' || type === 'boolean' || type === 'string') {
    return type;
  }
  throw new Error(`config schema: unsupported leaf type ${String(type)}`);
}

export function envNameFor(path: readonly string[]): string {
  return ENV_PREFIX + path.map((part) => part.toUpperCase()).join('__');
}

function collect(schema: SchemaObject, path: string[], out: ConfigLeaf[]): void {
  const properties = schema.properties as Record<string, SchemaObject> | undefined;
  if (schema.type === 'object' && properties !== undefined) {
    for (const [name, child] of Object.entries(properties)) collect(child, [...path, name], out);
    return;
  }
  out.push({
    key: path.join('.'),
    path,
    envName: envNameFor(path),
    kind: leafKind(schema),
    schema,
  });
}

let cached: readonly ConfigLeaf[] | undefined;

/** Every settable key of the config, in schema order. */
export function configLeaves(): readonly ConfigLeaf[] {
  if (cached === undefined) {
    const out: ConfigLeaf[] = [];
    collect(configSchema, [], out);
    cached = out;
  }
  return cached;
}

/** The value at `path` in a plain object tree, or undefined. */
export function getAt(tree: unknown, path: readonly string[]): unknown {
  let node = tree;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Sets `value` at `path`, creating intermediate objects. */
export function setAt(
  tree: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): void {
  let node = tree;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}
