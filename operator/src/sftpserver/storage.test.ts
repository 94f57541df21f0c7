import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FsProvider } from '../../../server/src/dataprovider/account-schema.js';
import { validateUser } from '../../../server/src/dataprovider/validate.js';
import { ServerReason } from '../api/conditions.js';
import type { Secret, SftpServer } from '../api/objects.js';
import { desiredAccount } from '../sftpuser/account.js';
import { buildConfigMap, serverConfig } from './config.js';
import { buildDeployment } from './deployment.js';
import { PATHS } from './layout.js';
import { accountFilesystem, s3CredentialSettings } from './storage.js';

const s3Storage = {
  s3: {
    bucket: 'homes',
    endpoint: 'http://minio.storage:9000',
    forcePathStyle: true,
    keyPrefix: 'sftp//tenants/',
    credentialsSecretRef: { name: 'homes-s3' },
  },
};

const server = (spec: Partial<SftpServer['spec']> = {}): SftpServer => ({
  metadata: { name: 'files', namespace: 'apps', uid: 's1' },
  spec: { database: { secretRef: { name: 'files-db' } }, storage: s3Storage, ...spec },
});

const secret = (data: Record<string, string>): Secret => ({
  metadata: { name: 'homes-s3', resourceVersion: '7' },
  data: Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
});

void describe('S3 storage', () => {
  void it('makes each account an S3 home under the server prefix, with no key of its own', () => {
    const account = desiredAccount({
      user: {
        metadata: { name: 'alice', namespace: 'apps', uid: 'u1' },
        spec: { serverRef: { name: 'files' }, password: { generate: true } },
      },
      passwordHash: '$pbkdf2-sha256$1000$salt$AAAA',
      publicKeys: [],
      storage: s3Storage,
    });
    assert.deepEqual(account.filesystem, {
      provider: FsProvider.s3,
      s3config: {
        bucket: 'homes',
        region: 'us-east-1',
        access_key: '',
        access_secret: '',
        endpoint: 'http://minio.storage:9000',
        storage_class: '',
        key_prefix: 'sftp/tenants/alice/',
        force_path_style: true,
      },
    });
    // The server accepts an S3 account without keys: it uses its own credentials.
    validateUser(account);
  });

  void it('takes home.subPath as the prefix below the server prefix, and no prefix as the bucket root', () => {
    assert.equal(
      accountFilesystem({ s3: { bucket: 'b', region: 'eu-west-1' } }, 'teams/alice').s3config
        ?.key_prefix,
      'teams/alice/',
    );
    assert.deepEqual(accountFilesystem({ persistentVolumeClaim: { size: '1Gi' } }, 'alice'), {
      provider: FsProvider.local,
    });
  });

  void it('gives the pods the credentials from the Secret as the SDK variables, never their values', () => {
    const settings = s3CredentialSettings(
      secret({ access_key_id: 'AKIA1', secret_access_key: 'very-secret' }),
      'homes-s3',
    );
    assert.ok(settings.ok);
    assert.deepEqual(settings.env, [
      {
        name: 'AWS_ACCESS_KEY_ID',
        valueFrom: { secretKeyRef: { name: 'homes-s3', key: 'access_key_id' } },
      },
      {
        name: 'AWS_SECRET_ACCESS_KEY',
        valueFrom: { secretKeyRef: { name: 'homes-s3', key: 'secret_access_key' } },
      },
    ]);
    const deployment = buildDeployment({
      server: server(),
      defaultImage: 'kubesftp:test',
      checksum: 'x',
      env: settings.env,
      hostKeySecret: 'files-host-keys',
      masterKeySecret: 'files-master-key',
      homesClaim: settings.homesClaim,
    });
    const text = JSON.stringify(deployment);
    assert.doesNotMatch(text, /very-secret|AKIA1/);
    assert.doesNotMatch(text, /persistentVolumeClaim/, 'no homes volume with S3');
    assert.doesNotMatch(text, new RegExp(PATHS.homes));
  });

  void it('names what is wrong with the credentials Secret', () => {
    const missing = s3CredentialSettings(undefined, 'homes-s3');
    assert.ok(!missing.ok);
    assert.equal(missing.reason, ServerReason.S3CredentialsSecretMissing);
    const invalid = s3CredentialSettings(secret({ access_key_id: 'AKIA1' }), 'homes-s3');
    assert.ok(!invalid.ok);
    assert.equal(invalid.reason, ServerReason.S3CredentialsSecretInvalid);
    assert.match(invalid.message, /lacks secret_access_key/);
  });
});

void describe('the master key in the config', () => {
  void it('is a file from the mounted Secret, and a master_key of the spec never reaches the ConfigMap', () => {
    const withKey = server({ config: { secrets: { master_key: 'in-the-spec-0123456789' } } });
    const files = { hostKeyFiles: ['ssh_host_ed25519_key'], masterKeyFile: `${PATHS.masterKey}/k` };
    assert.deepEqual(serverConfig(withKey, files)['secrets'], {
      master_key_file: `${PATHS.masterKey}/k`,
    });
    assert.doesNotMatch(JSON.stringify(buildConfigMap(withKey, files)), /in-the-spec/);
  });
});
