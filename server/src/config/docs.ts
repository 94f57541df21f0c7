/**
 * Renders docs/config.md from the schema: one table per section with every key, its env
 * variable, type, default and description. A test fails when the committed file is stale.
 */
import type { SchemaObject } from 'ajv';
import { configLeaves, type ConfigLeaf } from './leaves.js';
import { ConfigSchema, NOT_ENFORCED } from './schema.js';

export const CONFIG_DOCS_PATH = 'docs/config.md';

const INTRO = `# Configuration reference

<!-- Generated from server/src/config/schema.ts by \`node dist/server/src/config/gen-docs.js\`. Do not edit. -->

\`kubesftp serve\` reads \`<config-file>.json\`, \`.yaml\`, \`.yml\`, \`.toml\` or \`.env\` from the
config dir (\`--config-dir\`, default \`.\`; \`--config-file\`, default \`kubesftp\`). Only one of
them may exist. Every key is optional: missing keys take the defaults below. Unknown keys and
bad values stop startup with a message naming the key.

Any key can also be set from the environment, with or without a config file: the variable is
\`KUBESFTP_\` followed by the upper-cased section and key joined by \`__\`. Lists are written
comma-separated (\`KUBESFTP_SFTPD__ACTIONS__EXECUTE_ON=upload,download\`), lists of objects as
JSON (\`KUBESFTP_SFTPD__KEYS='[{"private_key":"id_ed25519"}]'\`), booleans as \`true\`/\`false\`
or \`1\`/\`0\`. The \`.env\` file format uses the same variable names.

Relative paths are resolved against the config dir. Keys marked *not enforced yet* are
accepted, and startup logs a warning when they are set to anything but their default.
`;

function typeOf(schema: SchemaObject): string {
  const values = schema.enum as unknown[] | undefined;
  if (values !== undefined) return `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  if (schema.type !== 'array') return String(schema.type);
  const items = schema.items as SchemaObject;
  if (items.type === 'object') return 'list of objects';
  const itemValues = items.enum as unknown[] | undefined;
  return itemValues === undefined
    ? 'list of strings'
    : `list of ${itemValues.map((v) => JSON.stringify(v)).join(', ')}`;
}

function boundsOf(schema: SchemaObject): string {
  const min = schema.minimum as number | undefined;
  const max = schema.maximum as number | undefined;
  if (min === undefined) return max === undefined ? '' : ` (<= ${max})`;
  return max === undefined ? ` (>= ${min})` : ` (${min}..${max})`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function describeLeaf(schema: SchemaObject): string {
  const marks = [
    schema.deprecated === true ? '**Deprecated.**' : '',
    schema[NOT_ENFORCED] === true ? '*Not enforced yet.*' : '',
  ];
  return [...marks, String(schema.description)].filter((part) => part !== '').join(' ');
}

function row(leaf: ConfigLeaf, section: string): string {
  const name = leaf.key.slice(section.length + 1);
  const columns = [
    `\`${name}\``,
    `\`${leaf.envName}\``,
    typeOf(leaf.schema) + boundsOf(leaf.schema),
    `\`${JSON.stringify(leaf.schema.default)}\``,
    describeLeaf(leaf.schema),
  ];
  return `| ${columns.map(cell).join(' | ')} |`;
}

function sectionDoc(section: string, description: string): string {
  const rows = configLeaves()
    .filter((leaf) => leaf.path[0] === section)
    .map((leaf) => row(leaf, section));
  return [
    `## \`${section}\``,
    '',
    description,
    '',
    '| Key | Environment variable | Type | Default | Description |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** The full text of docs/config.md. */
export function renderConfigDocs(): string {
  const sections = Object.entries(ConfigSchema.properties).map(([name, schema]) =>
    sectionDoc(name, String((schema as SchemaObject).description)),
  );
  return [INTRO, ...sections].join('\n');
}
