/**
 * The host keys of a server: the Secret the user names, or the one the operator generates once.
 * The generated Secret is created and never written again: a restart of the operator, an
 * upgrade or a re-applied spec keeps the keys clients have pinned. Deleting the Secret (or the
 * SftpServer, which owns it) is the way to new keys.
 */
import { ServerReason } from '../api/conditions.js';
import { SFTP_SERVER } from '../api/group.js';
import { childMeta } from '../api/children.js';
import { secretValue, type Secret, type SftpServer } from '../api/objects.js';
import type { HostKeyStatus } from '../api/sftpserver.js';
import type { KubeClient } from '../kube/client.js';
import { isAlreadyExists, withContext } from '../kube/errors.js';
import { Resources } from '../kube/resources.js';
import { HOST_KEY_FILES, describeHostKey, generateHostKeys } from './hostkeys.js';
import { serverNames } from './layout.js';
import type { Problem } from './status.js';

export interface HostKeys {
  ok: true;
  secretName: string;
  resourceVersion: string;
  /** Secret keys holding a private key, in a fixed order. */
  files: string[];
  keys: HostKeyStatus[];
  /** Whether this reconcile generated them. */
  generated: boolean;
}

export type HostKeysResult = HostKeys | ({ ok: false } & Problem);

function fromSecret(secret: Secret, generated: boolean): HostKeysResult {
  const name = secret.metadata.name;
  const files = Object.values(HOST_KEY_FILES).filter((file) => secretValue(secret, file));
  if (files.length === 0) {
    return {
      ok: false,
      reason: ServerReason.HostKeySecretInvalid,
      message: `Secret ${name} holds none of ${Object.values(HOST_KEY_FILES).join(', ')}`,
    };
  }
  try {
    const keys = files.map((file) => describeHostKey(secretValue(secret, file) ?? ''));
    return {
      ok: true,
      secretName: name,
      resourceVersion: secret.metadata.resourceVersion ?? '',
      files,
      keys,
      generated,
    };
  } catch (err) {
    return {
      ok: false,
      reason: ServerReason.HostKeySecretInvalid,
      message: `Secret ${name}: ${(err as Error).message}`,
    };
  }
}

async function createGenerated(
  client: KubeClient,
  server: SftpServer,
  name: string,
): Promise<Secret> {
  const keys = await generateHostKeys();
  const secret: Secret = {
    metadata: childMeta({
      owner: server,
      ownerKind: SFTP_SERVER.kind,
      name,
      instance: server.metadata.name,
      component: 'host-keys',
    }),
    type: 'Opaque',
    data: Object.fromEntries(
      Object.entries(keys).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
  };
  try {
    return await client.create(Resources.secret, secret);
  } catch (err) {
    if (!isAlreadyExists(err)) throw withContext(`creating host-key Secret ${name}`, err);
    const existing = await client.get<Secret>(Resources.secret, {
      namespace: server.metadata.namespace ?? '',
      name,
    });
    if (existing === undefined) throw withContext(`reading host-key Secret ${name}`, err);
    return existing;
  }
}

/** Reads the user's host-key Secret, or finds or creates the generated one. */
export async function resolveHostKeys(options: {
  client: KubeClient;
  server: SftpServer;
  cached: (name: string) => Secret | undefined;
}): Promise<HostKeysResult> {
  const { client, server } = options;
  const namespace = server.metadata.namespace ?? '';
  const given = server.spec.hostKeys?.secretRef?.name;
  if (given !== undefined) {
    const secret = await client.get<Secret>(Resources.secret, { namespace, name: given });
    if (secret === undefined) {
      return {
        ok: false,
        reason: ServerReason.HostKeySecretMissing,
        message: `host-key Secret ${given} not found`,
      };
    }
    return fromSecret(secret, false);
  }
  const name = serverNames(server.metadata.name).hostKeys;
  // The cache keeps the data of the operator's own Secrets; a miss may only be a lagging cache.
  const known =
    options.cached(name) ?? (await client.get<Secret>(Resources.secret, { namespace, name }));
  if (known !== undefined) return fromSecret(known, false);
  return fromSecret(await createGenerated(client, server, name), true);
}
