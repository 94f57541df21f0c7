/**
 * The host keys of a server: the Secret the user names, or the one the operator generates once
 * (generated-secret.ts) and never rotates, so clients keep the keys they pinned.
 */
import { ServerReason } from '../api/conditions.js';
import { secretValue, type Secret, type SftpServer } from '../api/objects.js';
import type { HostKeyStatus } from '../api/sftpserver.js';
import type { KubeClient } from '../kube/client.js';
import { Resources } from '../kube/resources.js';
import { findOrGenerateSecret } from './generated-secret.js';
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
  const { secret, generated } = await findOrGenerateSecret({
    client,
    server,
    name,
    component: 'host-keys',
    // The cache keeps the data of the operator's own Secrets.
    cached: options.cached(name),
    generate: generateHostKeys,
  });
  return fromSecret(secret, generated);
}
