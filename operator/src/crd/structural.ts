/**
 * Turns a TypeBox (JSON Schema) tree into the structural OpenAPI v3 schema a CRD takes: only
 * keywords the API server accepts, no `uniqueItems` (a set list instead), no
 * `additionalProperties: false` (unknown fields are pruned anyway), the server-only marks
 * folded into descriptions. It refuses what the API server would refuse later or what would
 * leave `kubectl explain` silent: a property without a description, a pattern RE2 cannot run.
 */
type Schema = Record<string, unknown>;

const KEPT = new Set([
  'type',
  'description',
  'properties',
  'required',
  'items',
  'additionalProperties',
  'enum',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'format',
  'default',
  'nullable',
]);

/** Keywords of our schemas that mean nothing to the API server. */
const DROPPED = new Set([
  '$id',
  'title',
  'examples',
  'uniqueItems',
  'deprecated',
  'x-not-enforced',
]);

/** Look-around and back-references: RE2, which the API server uses, has none of them. */
const UNSUPPORTED_PATTERN = /\(\?[=!<]|\\[1-9]/;

export class SchemaError extends Error {
  override readonly name = 'SchemaError';
}

function describe(schema: Schema): string | undefined {
  const notes: string[] = [];
  if (schema['deprecated'] === true) notes.push('Deprecated.');
  if (schema['x-not-enforced'] === true) notes.push('Accepted, not enforced yet.');
  const base = schema['description'];
  if (typeof base !== 'string') return notes.length > 0 ? notes.join(' ') : undefined;
  return [base, ...notes].join(' ');
}

function checkPattern(pattern: unknown, path: string): void {
  if (typeof pattern === 'string' && UNSUPPORTED_PATTERN.test(pattern)) {
    throw new SchemaError(`${path}: pattern ${pattern} needs look-around, which RE2 lacks`);
  }
}

function convertChildren(schema: Schema, out: Schema, path: string): void {
  const properties = schema['properties'] as Record<string, Schema> | undefined;
  if (properties !== undefined) {
    const converted: Record<string, Schema> = {};
    for (const [name, child] of Object.entries(properties)) {
      const childPath = `${path}.${name}`;
      if (typeof child['description'] !== 'string' || child['description'] === '') {
        throw new SchemaError(`${childPath}: a property needs a description (kubectl explain)`);
      }
      converted[name] = toStructural(child, childPath);
    }
    out['properties'] = converted;
  }
  const items = schema['items'] as Schema | undefined;
  if (items !== undefined) out['items'] = toStructural(items, `${path}[]`);
  const additional = schema['additionalProperties'];
  if (typeof additional === 'object' && additional !== null) {
    out['additionalProperties'] = toStructural(additional as Schema, `${path}{}`);
  } else {
    delete out['additionalProperties'];
  }
}

function copyKeywords(schema: Schema, path: string): Schema {
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (KEPT.has(key) || key.startsWith('x-kubernetes-')) out[key] = value;
    else if (!DROPPED.has(key)) throw new SchemaError(`${path}: keyword ${key} has no CRD form`);
  }
  return out;
}

/** The structural form of `schema`; `path` names it in errors (e.g. "spec.service"). */
export function toStructural(schema: Schema, path = ''): Schema {
  checkPattern(schema['pattern'], path);
  const out = copyKeywords(schema, path);
  const description = describe(schema);
  if (description !== undefined) out['description'] = description;
  if (schema['uniqueItems'] === true && out['x-kubernetes-list-type'] === undefined) {
    out['x-kubernetes-list-type'] = 'set';
  }
  if (Array.isArray(out['required']) && out['required'].length === 0) delete out['required'];
  convertChildren(schema, out, path);
  return out;
}

/** A TypeBox schema as plain JSON: TypeBox's symbol-keyed marks do not survive the copy. */
export function plain(schema: unknown): Schema {
  return JSON.parse(JSON.stringify(schema)) as Schema;
}
