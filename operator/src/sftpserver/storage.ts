/**
 * Where a server's homes live, as the pods and the accounts see it. A claim is mounted at the
 * homes path and an account's home is a directory there. With S3 there is no volume: each
 * account is an S3 home under <keyPrefix><home>/, and the pods take the credentials from the
 * referenced Secret as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, so the keys never reach
 * the database nor the Deployment (decision 0021).
 */
import { FsProvider, type NewUser } from '../../../server/src/dataprovider/account-schema.js';
import { normalizeKeyPrefix } from '../../../server/src/vfs/s3-settings.js';
import { ServerReason } from '../api/conditions.js';
import { secretValue, type Secret, type SftpServer } from '../api/objects.js';
import { DEFAULT_S3_REGION, S3_CREDENTIAL_KEYS, type SftpServerSpec } from '../api/sftpserver.js';
import type { KubeClient } from '../kube/client.js';
import { Resources } from '../kube/resources.js';
import type { EnvVar } from './database.js';
import { serverNames } from './layout.js';
import type { Problem } from './status.js';

export type StorageSpec = SftpServerSpec['storage'];

export interface StorageSettings {
  ok: true;
  /** The claim mounted at the homes path; undefined with S3. */
  homesClaim: string | undefined;
  /** The pod's environment for S3 credentials. */
  env: EnvVar[];
  /** The credentials Secret, whose changes roll the pods. */
  secret: { name: string; resourceVersion: string } | undefined;
}

/** The environment names the AWS SDK's default chain reads, by Secret key. */
const CREDENTIAL_ENV = [
  ['AWS_ACCESS_KEY_ID', S3_CREDENTIAL_KEYS.accessKeyId],
  ['AWS_SECRET_ACCESS_KEY', S3_CREDENTIAL_KEYS.secretAccessKey],
] as const;

/** The checked S3 credentials Secret, or why the pods could not use it. */
export function s3CredentialSettings(
  secret: Secret | undefined,
  name: string,
): StorageSettings | ({ ok: false } & Problem) {
  if (secret === undefined) {
    return {
      ok: false,
      reason: ServerReason.S3CredentialsSecretMissing,
      message: `S3 credentials Secret ${name} not found`,
    };
  }
  const missing = CREDENTIAL_ENV.map(([, key]) => key).filter((key) => !secretValue(secret, key));
  if (missing.length > 0) {
    return {
      ok: false,
      reason: ServerReason.S3CredentialsSecretInvalid,
      message: `S3 credentials Secret ${name} lacks ${missing.join(' and ')}`,
    };
  }
  return {
    ok: true,
    homesClaim: undefined,
    env: CREDENTIAL_ENV.map(([env, key]) => ({
      name: env,
      valueFrom: { secretKeyRef: { name, key } },
    })),
    secret: { name, resourceVersion: secret.metadata.resourceVersion ?? '' },
  };
}

/** The storage of `server`: its claim, or its S3 credentials read and checked. */
export async function resolveStorage(options: {
  client: KubeClient;
  server: SftpServer;
}): Promise<StorageSettings | ({ ok: false } & Problem)> {
  const { server } = options;
  const { s3, persistentVolumeClaim } = server.spec.storage;
  if (s3 === undefined) {
    return {
      ok: true,
      homesClaim: persistentVolumeClaim?.claimName ?? serverNames(server.metadata.name).homes,
      env: [],
      secret: undefined,
    };
  }
  const name = s3.credentialsSecretRef?.name;
  // No Secret: the pods find credentials the SDK's way (web identity, instance role).
  if (name === undefined) return { ok: true, homesClaim: undefined, env: [], secret: undefined };
  const secret = await options.client.get<Secret>(Resources.secret, {
    namespace: server.metadata.namespace ?? '',
    name,
  });
  return s3CredentialSettings(secret, name);
}

/**
 * The filesystem of an account whose home is `home` (the SftpUser's subPath or username): local,
 * or an S3 home under the server's prefix with no key of its own (the pods' credentials serve).
 */
export function accountFilesystem(
  storage: StorageSpec | undefined,
  home: string,
): NewUser['filesystem'] {
  const s3 = storage?.s3;
  if (s3 === undefined) return { provider: FsProvider.local };
  return {
    provider: FsProvider.s3,
    s3config: {
      bucket: s3.bucket,
      region: s3.region ?? DEFAULT_S3_REGION,
      access_key: '',
      access_secret: '',
      endpoint: s3.endpoint ?? '',
      storage_class: '',
      // The CRD refuses "." and ".." in both parts, so this does not throw.
      key_prefix: normalizeKeyPrefix(`${s3.keyPrefix ?? ''}/${home}`),
      force_path_style: s3.forcePathStyle === true,
    },
  };
}
