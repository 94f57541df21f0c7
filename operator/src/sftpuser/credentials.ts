/**
 * What an SftpUser logs in with: the password from its Secret (or from the Secret the
 * operator generates for it) and the public keys given inline or in Secrets. Secrets are read
 * from the API server, since the cache keeps no data of Secrets the operator does not own.
 */
import { UserReason } from '../api/conditions.js';
import { ANNOTATIONS, SFTP_USER } from '../api/group.js';
import { childMeta, controllerOf } from '../api/children.js';
import {
  secretValue,
  type KubeObject,
  type Secret,
  type SftpServer,
  type SftpUser,
} from '../api/objects.js';
import { DEFAULT_SERVICE_PORT } from '../api/sftpserver.js';
import type { KubeClient } from '../kube/client.js';
import { isAlreadyExists } from '../kube/errors.js';
import { Resources } from '../kube/resources.js';
import { applyIfChanged } from '../runtime/writes.js';
import { knownHostsLine } from '../sftpserver/hostkeys.js';
import { credentialsSecretName, serverNames } from '../sftpserver/layout.js';
import { usernameOf } from './account.js';
import { generatePassword, passwordDigest } from './password-hash.js';

export interface PasswordSource {
  plain: string;
  secretName: string;
  resourceVersion: string;
  /** The operator generated it (not edited since): random enough to need no stretching. */
  generated: boolean;
}

export interface Credentials {
  ok: true;
  /** The clear-text password and where it came from; undefined when the account has none. */
  password: PasswordSource | undefined;
  publicKeys: string[];
  /** resourceVersion of every Secret read, by name. */
  appliedSecrets: Record<string, string>;
}

type ConfigMap = KubeObject & { data?: Record<string, string> };

export interface CredentialsProblem {
  ok: false;
  reason: UserReason;
  message: string;
}

export interface CredentialsOptions {
  client: KubeClient;
  user: SftpUser;
  server: SftpServer;
  /** The cache's copy of a Secret (data kept only for the operator's own). */
  cached: (name: string) => Secret | undefined;
  /** Tells the cache of a Secret written here, before its watch does. */
  wrote: (secret: Secret) => void;
}

const missing = (name: string): CredentialsProblem => ({
  ok: false,
  reason: UserReason.SecretMissing,
  message: `Secret ${name} not found`,
});

const invalid = (message: string): CredentialsProblem => ({
  ok: false,
  reason: UserReason.SecretInvalid,
  message,
});

async function readSecret(options: CredentialsOptions, name: string): Promise<Secret | undefined> {
  return options.client.get<Secret>(Resources.secret, {
    namespace: options.user.metadata.namespace ?? '',
    name,
  });
}

/** Where clients reach the server, as the generated Secret tells them. */
export function connectionDetails(server: SftpServer): {
  host: string;
  port: number;
  knownHosts: string;
} {
  const service = server.status?.service;
  const host =
    service?.address ??
    `${serverNames(server.metadata.name).service}.${server.metadata.namespace ?? 'default'}.svc`;
  const port = service?.port ?? server.spec.service?.port ?? DEFAULT_SERVICE_PORT;
  const knownHosts = (server.status?.hostKeys ?? [])
    .map((key) => `${knownHostsLine(host, port, key)}\n`)
    .join('');
  return { host, port, knownHosts };
}

function generatedSecret(
  options: CredentialsOptions,
  password: string,
  generatedDigest: string | undefined,
): Secret {
  const { user, server } = options;
  const { host, port, knownHosts } = connectionDetails(server);
  const values: Record<string, string> = {
    username: usernameOf(user),
    password,
    host,
    port: String(port),
    known_hosts: knownHosts,
  };
  const metadata = childMeta({
    owner: user,
    ownerKind: SFTP_USER.kind,
    name: credentialsSecretName(user.metadata.name),
    instance: server.metadata.name,
    component: 'credentials',
  });
  if (generatedDigest !== undefined) {
    metadata.annotations = { [ANNOTATIONS.generatedPassword]: generatedDigest };
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata,
    type: 'kubernetes.io/basic-auth',
    data: Object.fromEntries(
      Object.entries(values).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
    ),
  };
}

/**
 * A new generated Secret is created without being looked for first (one request, not two):
 * the cache, which holds the operator's own Secrets with their data, has none, and a create
 * never overwrites one it has not seen yet; AlreadyExists sends it back to the read.
 */
async function createGenerated(
  options: CredentialsOptions,
  name: string,
): Promise<Credentials['password'] | undefined> {
  const password = generatePassword();
  try {
    const created = await options.client.create<Secret>(
      Resources.secret,
      generatedSecret(options, password, passwordDigest(password)),
    );
    options.wrote(created);
    return {
      plain: password,
      secretName: name,
      resourceVersion: created.metadata.resourceVersion ?? '',
      generated: true,
    };
  } catch (err) {
    if (isAlreadyExists(err)) return undefined;
    throw err;
  }
}

/** Keeps the generated Secret: its password is made once, the connection details follow the server. */
async function generatedPassword(
  options: CredentialsOptions,
): Promise<Credentials['password'] | CredentialsProblem> {
  const name = credentialsSecretName(options.user.metadata.name);
  const cached = options.cached(name);
  if (cached === undefined) {
    const created = await createGenerated(options, name);
    if (created !== undefined) return created;
  }
  const current = cached ?? (await readSecret(options, name));
  if (current !== undefined && controllerOf(current)?.uid !== options.user.metadata.uid) {
    return invalid(
      `Secret ${name} exists and is not owned by this SftpUser; delete it or set password.secretRef`,
    );
  }
  const kept = secretValue(current, 'password');
  const password = kept || generatePassword();
  // The digest of the password the operator made, kept as long as the Secret holds one.
  const generatedDigest = kept
    ? current?.metadata.annotations?.[ANNOTATIONS.generatedPassword]
    : passwordDigest(password);
  const { outcome, object } = await applyIfChanged(options.client, {
    type: Resources.secret,
    desired: generatedSecret(options, password, generatedDigest),
    observed: current,
  });
  if (outcome !== 'unchanged') options.wrote(object);
  return {
    plain: password,
    secretName: name,
    resourceVersion: object.metadata.resourceVersion ?? '',
    generated: generatedDigest === passwordDigest(password),
  };
}

async function referencedPassword(
  options: CredentialsOptions,
  ref: { name: string; key?: string | undefined },
): Promise<Credentials['password'] | CredentialsProblem> {
  const secret = await readSecret(options, ref.name);
  if (secret === undefined) return missing(ref.name);
  const key = ref.key ?? 'password';
  const plain = secretValue(secret, key);
  if (plain === undefined || plain === '')
    return invalid(`Secret ${ref.name} has no ${key} key, or it is empty`);
  return {
    plain,
    secretName: ref.name,
    resourceVersion: secret.metadata.resourceVersion ?? '',
    generated: false,
  };
}

/** authorized_keys text: one key per line; blank lines and comments skipped. */
export function keyLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

type KeysSource = NonNullable<SftpUser['spec']['publicKeysFrom']>[number];

/** The keys one source holds, and under which name its resourceVersion is recorded. */
async function keysOf(
  options: CredentialsOptions,
  source: KeysSource,
): Promise<{ text: string; recordedAs: string; resourceVersion: string } | CredentialsProblem> {
  if (source.configMapKeyRef !== undefined) {
    const ref = source.configMapKeyRef;
    const key = ref.key ?? 'authorized_keys';
    const configMap = await options.client.get<ConfigMap>(Resources.configMap, {
      namespace: options.user.metadata.namespace ?? '',
      name: ref.name,
    });
    if (configMap === undefined) {
      return {
        ok: false,
        reason: UserReason.ConfigMapMissing,
        message: `ConfigMap ${ref.name} not found`,
      };
    }
    const text = configMap.data?.[key];
    if (text === undefined) {
      const message = `ConfigMap ${ref.name} has no ${key} key`;
      return { ok: false, reason: UserReason.ConfigMapInvalid, message };
    }
    const resourceVersion = configMap.metadata.resourceVersion ?? '';
    return { text, recordedAs: configMapRecordName(ref.name), resourceVersion };
  }
  const ref = source.secretKeyRef ?? { name: '' };
  const secret = await readSecret(options, ref.name);
  if (secret === undefined) return missing(ref.name);
  const text = secretValue(secret, ref.key ?? 'authorized_keys');
  if (text === undefined)
    return invalid(`Secret ${ref.name} has no ${ref.key ?? 'authorized_keys'} key`);
  return { text, recordedAs: ref.name, resourceVersion: secret.metadata.resourceVersion ?? '' };
}

/** status.appliedSecrets records a ConfigMap under this name, apart from a Secret of the same name. */
export function configMapRecordName(name: string): string {
  return `configmap/${name}`;
}

async function publicKeys(
  options: CredentialsOptions,
): Promise<{ keys: string[]; versions: Record<string, string> } | CredentialsProblem> {
  const keys = [...(options.user.spec.publicKeys ?? [])];
  const versions: Record<string, string> = {};
  for (const source of options.user.spec.publicKeysFrom ?? []) {
    const found = await keysOf(options, source);
    if ('ok' in found) return found;
    keys.push(...keyLines(found.text));
    versions[found.recordedAs] = found.resourceVersion;
  }
  return { keys, versions };
}

export async function resolveCredentials(
  options: CredentialsOptions,
): Promise<Credentials | CredentialsProblem> {
  const spec = options.user.spec.password;
  let password: Credentials['password'] | CredentialsProblem = undefined;
  if (spec?.generate === true) password = await generatedPassword(options);
  else if (spec?.secretRef !== undefined)
    password = await referencedPassword(options, spec.secretRef);
  if (password !== undefined && 'ok' in password) return password;
  const keys = await publicKeys(options);
  if ('ok' in keys) return keys;
  return {
    ok: true,
    password,
    publicKeys: keys.keys,
    appliedSecrets: {
      ...keys.versions,
      ...(password === undefined ? {} : { [password.secretName]: password.resourceVersion }),
    },
  };
}
