/**
 * `SftpServer.spec.config`: the server's own config keys, with the names, bounds and
 * descriptions of the config file (server/src/config/schema.ts), minus the keys the operator
 * sets itself. The operator writes the result into the ConfigMap as `kubesftp.json`.
 */
import { Type, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { ConfigSchema, type Config } from '../../../server/src/config/schema.js';
import { cel } from './schema.js';

/** Keys the pod's layout decides; the CRD does not accept them, and the reason is documented. */
export const OPERATOR_OWNED_KEYS: Readonly<Record<string, string>> = {
  'sftpd.bind_port': 'the container port is fixed; set spec.service.port',
  'sftpd.bind_address': 'the server listens on every pod address',
  'sftpd.keys': 'the host keys come from the host-key Secret (spec.hostKeys)',
  'sftpd.host_key_types': 'the host keys come from the host-key Secret (spec.hostKeys)',
  'sftpd.login_banner_file': 'a file in the pod',
  'sftpd.keyboard_interactive_auth_program': 'a program in the pod',
  'sftpd.actions': 'hooks run programs in the pod',
  'sftpd.enable_scp': 'deprecated; use sftpd.enabled_ssh_commands',
  'httpd.bind_port': 'the container port is fixed',
  'httpd.bind_address': 'probes and Prometheus reach every pod address',
  'httpd.templates_path': 'a directory in the pod',
  'httpd.static_files_path': 'a directory in the pod',
  'httpd.backups_path': 'a directory in the pod',
  'data_provider.driver': 'always postgresql',
  'data_provider.name': 'from the database Secret (spec.database)',
  'data_provider.host': 'from the database Secret (spec.database)',
  'data_provider.port': 'from the database Secret (spec.database)',
  'data_provider.username': 'from the database Secret (spec.database)',
  'data_provider.password': 'from the database Secret (spec.database)',
  'data_provider.connection_string': 'from the database Secret (spec.database)',
  'data_provider.users_base_dir': 'the mount point of the storage (spec.storage)',
  'data_provider.actions': 'hooks run programs in the pod',
  'data_provider.external_auth_program': 'a program in the pod',
  'data_provider.external_auth_scope': 'goes with external_auth_program',
  'secrets.master_key_file': 'the file of the master-key Secret (spec.masterKey)',
};

/** Keys whose default the operator decides, with what it sets when the spec leaves them out. */
export const OPERATOR_DEFAULTS: Readonly<Record<string, string>> = {
  'sftpd.workers':
    'When absent, the operator sets 0 (one process per CPU of the limit) if spec.resources has a CPU limit, otherwise 1.',
};

/**
 * Keys the schema keeps only to refuse them with a message (a key left out of the schema would
 * be pruned without a word): a secret has no place in a spec that any reader of the object sees.
 */
export const REFUSED_KEYS = {
  'secrets.master_key':
    'put the master key in a Secret and reference it with spec.masterKey.secretRef',
} as const;

const refusals = (): Array<{ section: string; name: string; message: string }> =>
  Object.entries(REFUSED_KEYS).map(([key, why]) => {
    const [section = '', name = ''] = key.split('.');
    return { section, name, message: `${key} is not accepted: ${why}` };
  });

/** Why a config is refused, if it is: what the CRD refuses, for objects stored before the rule. */
export function refusedKeysIn(config: ServerConfigSpec | undefined): string[] {
  const sections = config as Record<string, Record<string, unknown> | undefined> | undefined;
  return refusals()
    .filter(({ section, name }) => sections?.[section]?.[name] !== undefined)
    .map(({ message }) => message);
}

/** What a server's config may set: any key of any section, each optional. */
export type ServerConfigSpec = { [S in keyof Config]?: Partial<Config[S]> };

function describeDefault(value: unknown): string {
  if (value === '') return 'empty';
  if (Array.isArray(value) && value.length === 0) return 'empty';
  return JSON.stringify(value);
}

/**
 * A leaf without its default (the server applies its own), the default named in the text, or
 * what the operator sets in its place.
 */
function leaf(schema: TSchema, operatorDefault?: string): Record<string, unknown> {
  const { default: defaultValue, ...rest } = schema as Record<string, unknown>;
  const description = typeof rest['description'] === 'string' ? rest['description'] : '';
  if (operatorDefault !== undefined)
    return { ...rest, description: `${description} ${operatorDefault}` };
  return defaultValue === undefined
    ? rest
    : { ...rest, description: `${description} Default: ${describeDefault(defaultValue)}.` };
}

function section(name: string, schema: TSchema): Record<string, unknown> {
  const properties = schema.properties as Record<string, TSchema>;
  const kept = Object.entries(properties).filter(
    ([key]) => !(`${name}.${key}` in OPERATOR_OWNED_KEYS),
  );
  return {
    type: 'object',
    description: String(schema.description ?? name),
    properties: Object.fromEntries(
      kept.map(([key, child]) => {
        const refused = (REFUSED_KEYS as Record<string, string>)[`${name}.${key}`];
        // Described as what it is here: a key the API server refuses.
        return [
          key,
          refused === undefined
            ? leaf(child, OPERATOR_DEFAULTS[`${name}.${key}`])
            : { type: 'string', description: `Not accepted: ${refused}.` },
        ];
      }),
    ),
  };
}

function ownedKeysText(): string {
  return Object.entries(OPERATOR_OWNED_KEYS)
    .map(([key, why]) => `${key} (${why})`)
    .join('; ');
}

/** The schema of spec.config, derived from the config schema each time it is asked for. */
export function serverConfigSchema(): TUnsafe<ServerConfigSpec> {
  const sections = ConfigSchema.properties as Record<string, TSchema>;
  return Type.Unsafe<ServerConfigSpec>({
    type: 'object',
    description:
      'Server settings with the keys and meanings of the kubesftp config file (docs/config.md); omitted keys keep their defaults. ' +
      `The operator sets these itself and refuses them here: ${ownedKeysText()}.`,
    properties: Object.fromEntries(
      Object.entries(sections).map(([name, child]) => [name, section(name, child)]),
    ),
    ...cel(
      ...refusals().map(({ section, name, message }) => ({
        rule: `!has(self.${section}) || !has(self.${section}.${name})`,
        message,
      })),
    ),
  });
}
