/**
 * The master key that seals account secrets in the database: a key of the Secret the spec
 * names, or the Secret <server>-master-key the operator generates once and never rotates (a
 * new key would make every sealed secret unreadable). The pods read it as a file
 * (secrets.master_key_file), never from the spec, the ConfigMap or their environment.
 */
import { randomBytes } from 'node:crypto';
import { ServerReason } from '../api/conditions.js';
import { secretValue, type Secret, type SftpServer } from '../api/objects.js';
import { DEFAULT_MASTER_KEY_KEY } from '../api/sftpserver.js';
import type { KubeClient } from '../kube/client.js';
import { Resources } from '../kube/resources.js';
import { findOrGenerateSecret } from './generated-secret.js';
import { PATHS, serverNames } from './layout.js';
import type { Problem } from './status.js';

/** The server refuses a shorter key (server/src/dataprovider/secret-box.ts). */
const MIN_LENGTH = 16;

export interface MasterKey {
  ok: true;
  secretName: string;
  /** The key of the Secret that holds it: the file name in the mounted directory. */
  key: string;
  resourceVersion: string;
  generated: boolean;
}

/** Where the pod finds the key. */
export const masterKeyFile = (key: string): string => `${PATHS.masterKey}/${key}`;

function checked(
  secret: Secret,
  key: string,
  generated: boolean,
): MasterKey | ({ ok: false } & Problem) {
  const name = secret.metadata.name;
  const value = secretValue(secret, key)?.trim() ?? '';
  if (value.length < MIN_LENGTH) {
    return {
      ok: false,
      reason: ServerReason.MasterKeySecretInvalid,
      message:
        value === ''
          ? `master-key Secret ${name} has no key ${key}`
          : `master-key Secret ${name}: ${key} is shorter than ${MIN_LENGTH} characters`,
    };
  }
  return {
    ok: true,
    secretName: name,
    key,
    resourceVersion: secret.metadata.resourceVersion ?? '',
    generated,
  };
}

export async function resolveMasterKey(options: {
  client: KubeClient;
  server: SftpServer;
  cached: (name: string) => Secret | undefined;
}): Promise<MasterKey | ({ ok: false } & Problem)> {
  const { client, server } = options;
  const ref = server.spec.masterKey?.secretRef;
  if (ref !== undefined) {
    const secret = await client.get<Secret>(Resources.secret, {
      namespace: server.metadata.namespace ?? '',
      name: ref.name,
    });
    if (secret === undefined) {
      return {
        ok: false,
        reason: ServerReason.MasterKeySecretMissing,
        message: `master-key Secret ${ref.name} not found`,
      };
    }
    return checked(secret, ref.key ?? DEFAULT_MASTER_KEY_KEY, false);
  }
  const name = serverNames(server.metadata.name).masterKey;
  const { secret, generated } = await findOrGenerateSecret({
    client,
    server,
    name,
    component: 'master-key',
    cached: options.cached(name),
    generate: () =>
      Promise.resolve({ [DEFAULT_MASTER_KEY_KEY]: randomBytes(32).toString('base64url') }),
  });
  return checked(secret, DEFAULT_MASTER_KEY_KEY, generated);
}
