/**
 * An SftpServer with S3 homes on the test bed's MinIO, reconciled by the operator on the real
 * API server: a credentials Secret that is missing or lacks a key shows as Degraded, a complete
 * one gives pods without a homes volume that take the keys as their environment. `kubesftp
 * serve` runs as the Deployment's pod would (test/operator/pod.ts) and the real OpenSSH sftp
 * puts and gets a file whose object is then read from MinIO under the user's prefix. The
 * master key comes from a Secret: an account secret sealed by one pod opens in a second one
 * started from the same pod spec.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { secretBoxFor } from '../../server/src/dataprovider/secret-box.js';
import {
  s3ClientFor,
  startKubernetes,
  startPostgres,
  startS3,
  type KubernetesEnv,
  type PostgresEnv,
  type S3Env,
} from '../env/testbed.js';
import { sha256File } from '../integration/harness.js';
import { waitFor } from '../testbed/wait.js';
import {
  RELEASE_NAMESPACE,
  TEST_IMAGE,
  condition,
  decode,
  installChart,
  kubeIn,
  writeOperatorKubeconfig,
  podKnownHosts,
  sftpInPod,
  type KubeObject,
} from './cluster.js';
import { startHelm, type Helm } from './helm.js';
import { spawnOperator, type OperatorProcess } from './operator-process.js';
import { startPod, waitUntilReady, type PodSpec, type RunningPod } from './pod.js';

const NAMESPACE = 'sftp-s3';
const SERVER = 'objects';
const PREFIX = 'tenants/';
const RESYNC_SECONDS = 4;
const CREDENTIALS = 'objects-s3';
const MASTER_KEY_SECRET = 'objects-master';
const MASTER_KEY = randomBytes(24).toString('base64url');
/** Only for the test's REST calls: the pod spec as rendered has no admin. */
const ADMIN_PASSWORD = randomBytes(12).toString('hex');

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

void describe('an SftpServer with S3 homes', { timeout: 600_000 }, () => {
  let kube: KubernetesEnv;
  let postgres: PostgresEnv;
  let s3: S3Env;
  let helm: Helm;
  let operator: OperatorProcess | undefined;
  let pod: RunningPod | undefined;
  let work: string;
  let databaseUrl: string;
  let knownHosts: string;
  let k: ReturnType<typeof kubeIn>;

  const serverYaml = (): string => `apiVersion: kubesftp.io/v1alpha1
kind: SftpServer
metadata:
  name: ${SERVER}
  namespace: ${NAMESPACE}
spec:
  database:
    secretRef:
      name: objects-db
  storage:
    s3:
      bucket: ${s3.bucket}
      endpoint: ${s3.endpoint}
      region: ${s3.region}
      forcePathStyle: true
      keyPrefix: ${PREFIX}
      credentialsSecretRef:
        name: ${CREDENTIALS}
  masterKey:
    secretRef:
      name: ${MASTER_KEY_SECRET}
      key: key
`;

  const credentialsYaml = (data: Record<string, string>): string => `apiVersion: v1
kind: Secret
metadata:
  name: ${CREDENTIALS}
  namespace: ${NAMESPACE}
stringData: ${JSON.stringify(data)}
`;

  /** An account's s3config for the test bucket, keys aside. */
  const bucketConfig = (keyPrefix: string): Record<string, unknown> => ({
    bucket: s3.bucket,
    region: s3.region,
    endpoint: s3.endpoint,
    force_path_style: true,
    key_prefix: keyPrefix,
  });

  const degradedReason = async (): Promise<string | undefined> =>
    condition(await k.get('sftpserver', SERVER), 'Degraded')?.reason;

  const query = async (sql: string, params: unknown[] = []): Promise<pg.QueryResult> => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return await client.query(sql, params);
    } finally {
      await client.end();
    }
  };

  const objectSha256 = async (key: string): Promise<string> => {
    const client = s3ClientFor(s3);
    try {
      const object = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      return sha256(Buffer.from(await object.Body!.transformToByteArray()));
    } finally {
      client.destroy();
    }
  };

  /** The Deployment's pod, as rendered, run with the services of this machine it needs. */
  const runPod = async (): Promise<RunningPod> => {
    const deployment = await k.get('deployment', SERVER);
    const spec = structuredClone((deployment.spec!['template'] as { spec: PodSpec }).spec);
    spec.containers[0]!.env = [
      ...(spec.containers[0]!.env ?? []),
      { name: 'KUBESFTP_ADMIN_PASSWORD', value: ADMIN_PASSWORD },
    ];
    const started = await startPod(spec, {
      configMap: (name) => k.get('configmap', name),
      secret: (name) => k.get('secret', name),
      claim: (name) => {
        throw new Error(`an S3 server mounts no claim, yet asks for ${name}`);
      },
      forwardPorts: [postgres.port, Number(new URL(s3.endpoint).port)],
    });
    await waitUntilReady(started);
    return started;
  };

  /** A put and a get through the pod, checked by sha256; returns the digest. */
  const roundTrip = async (auth: { username: string; password: string }): Promise<string> => {
    const upload = join(work, `${auth.username}-up.bin`);
    const download = join(work, `${auth.username}-down.bin`);
    // Over one 8 MiB part: a multipart upload.
    await writeFile(upload, randomBytes(9 * 1024 * 1024 + 13));
    const put = await sftpInPod({
      pod: pod!,
      work,
      knownHosts,
      auth,
      commands: [`put ${upload} data.bin`, `get data.bin ${download}`],
    });
    const podLog = pod!.logLines
      .slice(-10)
      .map((line) => JSON.stringify(line))
      .join('\n');
    assert.equal(put.code, 0, `${put.stderr}\nthe pod's last log lines:\n${podLog}`);
    const digest = await sha256File(upload);
    assert.equal(await sha256File(download), digest);
    return digest;
  };

  /** A call to the pod's REST API as the admin, from inside its network namespace. */
  const rest = async (method: string, path: string, body?: unknown): Promise<string> => {
    const run = promisify(execFile);
    const curl = (args: string[]): Promise<{ stdout: string }> => {
      const wrapped = pod!.inNetwork('curl', ['-sS', '--fail-with-body', ...args]);
      return run(wrapped.command, wrapped.args);
    };
    const token = JSON.parse(
      (await curl(['-u', `admin:${ADMIN_PASSWORD}`, 'http://127.0.0.1:8080/api/v1/token'])).stdout,
    ) as { access_token: string };
    const { stdout } = await curl([
      '-X',
      method,
      '-H',
      `authorization: Bearer ${token.access_token}`,
      '-H',
      'content-type: application/json',
      ...(body === undefined ? [] : ['--data-binary', JSON.stringify(body)]),
      `http://127.0.0.1:8080${path}`,
    ]);
    return stdout;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-operator-s3-'));
    knownHosts = join(work, 'known_hosts');
    [kube, postgres, helm, s3] = await Promise.all([
      startKubernetes(),
      startPostgres(),
      startHelm(),
      startS3(),
    ]);
    databaseUrl = postgres.url(await postgres.createDatabase('operator_s3'));
    k = kubeIn(kube, NAMESPACE);
    await installChart(helm, kube);
    await kube.kubectl(['create', 'namespace', NAMESPACE]);
    operator = spawnOperator({
      kubeconfig: await writeOperatorKubeconfig(kube, work),
      defaultImage: TEST_IMAGE,
      leaderElectionNamespace: RELEASE_NAMESPACE,
      resyncSeconds: RESYNC_SECONDS,
      hashIterations: 10_000,
      verbose: true,
    });
    await operator.running();
  });

  after(async () => {
    await pod?.stop();
    await operator?.stop();
    if (operator !== undefined && process.exitCode)
      process.stderr.write(`${operator.logs.slice(-80).join('\n')}\n`);
    await helm?.close();
    await Promise.all([kube?.stop(), postgres?.stop(), s3?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  void it('refuses a master key written into spec.config, with a message naming the way', async () => {
    await assert.rejects(
      k.apply(`${serverYaml()}  config:\n    secrets:\n      master_key: ${MASTER_KEY}\n`),
      (err: Error) => {
        assert.match(err.message, /secrets\.master_key is not accepted/);
        assert.match(err.message, /spec\.masterKey\.secretRef/);
        return true;
      },
    );
  });

  void it('reports a missing, then an incomplete credentials Secret as Degraded, and deploys nothing', async () => {
    await kube.kubectl([
      'create',
      'secret',
      'generic',
      'objects-db',
      '-n',
      NAMESPACE,
      `--from-literal=uri=${databaseUrl}`,
    ]);
    await kube.kubectl([
      'create',
      'secret',
      'generic',
      MASTER_KEY_SECRET,
      '-n',
      NAMESPACE,
      `--from-literal=key=${MASTER_KEY}`,
    ]);
    await k.apply(serverYaml());
    await waitFor('S3CredentialsSecretMissing', async () =>
      (await degradedReason()) === 'S3CredentialsSecretMissing' ? true : undefined,
    );
    await k.apply(credentialsYaml({ access_key_id: s3.accessKey }));
    await waitFor('S3CredentialsSecretInvalid', async () =>
      (await degradedReason()) === 'S3CredentialsSecretInvalid' ? true : undefined,
    );
    const server = await k.get('sftpserver', SERVER);
    assert.match(condition(server, 'Degraded')?.message ?? '', /lacks secret_access_key/);
    assert.equal(condition(server, 'Ready')?.status, 'False');
    await assert.rejects(k.get('deployment', SERVER), /not found/i);
  });

  void it('deploys pods with the keys as their environment and no homes volume once the Secret is complete', async () => {
    await k.apply(
      credentialsYaml({ access_key_id: s3.accessKey, secret_access_key: s3.secretKey }),
    );
    const deployment = await waitFor('the Deployment', () =>
      k.get('deployment', SERVER).catch(() => undefined),
    );
    await waitFor('Degraded False', async () =>
      condition(await k.get('sftpserver', SERVER), 'Degraded')?.status === 'False'
        ? true
        : undefined,
    );
    const text = JSON.stringify(deployment);
    assert.doesNotMatch(text, /persistentVolumeClaim/, 'no homes claim is mounted');
    assert.ok(!text.includes(s3.secretKey), 'the secret key is not in the Deployment');
    const template = deployment.spec!['template'] as { spec: PodSpec };
    const env = template.spec.containers[0]!.env ?? [];
    assert.deepEqual(
      env.filter((v) => v.name.startsWith('AWS_')),
      [
        {
          name: 'AWS_ACCESS_KEY_ID',
          valueFrom: { secretKeyRef: { name: CREDENTIALS, key: 'access_key_id' } },
        },
        {
          name: 'AWS_SECRET_ACCESS_KEY',
          valueFrom: { secretKeyRef: { name: CREDENTIALS, key: 'secret_access_key' } },
        },
      ],
    );
    const masterKeyVolume = template.spec.volumes.find((v) => v.name === 'master-key');
    assert.deepEqual(masterKeyVolume?.secret, {
      secretName: MASTER_KEY_SECRET,
      defaultMode: 0o440,
    });
    const config = JSON.parse(
      (await k.get('configmap', `${SERVER}-config`)).data!['kubesftp.json']!,
    ) as { secrets: Record<string, string> };
    assert.deepEqual(config.secrets, { master_key_file: '/var/run/kubesftp/master-key/key' });
    await assert.rejects(k.get('persistentvolumeclaim', `${SERVER}-homes`), /not found/i);
  });

  void it('writes an SftpUser as an S3 home under the server prefix, without keys', async () => {
    await k.apply(`apiVersion: kubesftp.io/v1alpha1
kind: SftpUser
metadata:
  name: alice
  namespace: ${NAMESPACE}
spec:
  serverRef:
    name: ${SERVER}
  password:
    generate: true
`);
    await waitFor('alice Synced', async () =>
      condition(await k.get('sftpuser', 'alice'), 'Synced')?.status === 'True' ? true : undefined,
    );
    const { rows } = await query('SELECT filesystem FROM users WHERE username = $1', ['alice']);
    assert.deepEqual(rows[0].filesystem, {
      provider: 1,
      s3config: {
        ...bucketConfig(`${PREFIX}alice/`),
        storage_class: '',
        access_key: '',
        access_secret: '',
      },
    });
    // Resyncs find the stored S3 home as declared: the row is not written again.
    const version = async (): Promise<string> =>
      String((await query('SELECT xmin FROM users WHERE username = $1', ['alice'])).rows[0].xmin);
    const written = await version();
    await sleep(2.5 * RESYNC_SECONDS * 1000);
    assert.equal(await version(), written, 'no write after the account was created');
  });

  void it('serves the home from a pod: sftp put and get intact, the object in MinIO under the prefix', async () => {
    pod = await runPod();
    const credentials = await waitFor('known_hosts in the credentials', async () => {
      const secret = await k.get('secret', 'alice-credentials');
      return decode(secret, 'known_hosts').includes('ssh-ed25519') ? secret : undefined;
    });
    await podKnownHosts(credentials, knownHosts);
    const digest = await roundTrip({
      username: 'alice',
      password: decode(credentials, 'password'),
    });
    assert.equal(await objectSha256(`${PREFIX}alice/data.bin`), digest);
  });

  void it('seals an account secret with the Secret master key; a second pod of the same spec opens it', async () => {
    const password = randomBytes(12).toString('hex');
    await rest('POST', '/api/v1/user', {
      username: 'bob',
      password,
      home_dir: '/srv/unused/bob',
      permissions: { '/': ['*'] },
      status: 1,
      filesystem: {
        provider: 1,
        s3config: {
          ...bucketConfig('rest/bob/'),
          access_key: s3.accessKey,
          access_secret: s3.secretKey,
        },
      },
    });
    const { rows } = await query('SELECT filesystem FROM users WHERE username = $1', ['bob']);
    const sealed = (rows[0].filesystem as { s3config: { access_secret: string } }).s3config
      .access_secret;
    assert.ok(!sealed.includes(s3.secretKey), 'the secret is not stored in clear');
    // The key id in the sealed value is that of the Secret's key, not of a provider key.
    const box = secretBoxFor(
      { masterKeyFile: '', masterKey: MASTER_KEY },
      {
        getOrCreateSecret: () => Promise.reject(new Error('the master key is configured')),
      },
    );
    const keyId = (value: string): string | undefined => value.split('$')[3];
    assert.equal(keyId(sealed), keyId(await box.seal('probe')));
    await pod!.stop();
    pod = await runPod();
    const digest = await roundTrip({ username: 'bob', password });
    assert.equal(await objectSha256('rest/bob/data.bin'), digest);
  });

  void it('rolls the pods when the credentials Secret changes', async () => {
    const before = await k.get('deployment', SERVER);
    const checksum = (object: KubeObject): string | undefined =>
      (object.spec!['template'] as { metadata: { annotations: Record<string, string> } }).metadata
        .annotations['kubesftp.io/config-checksum'];
    await kube.kubectl(['annotate', 'secret', CREDENTIALS, '-n', NAMESPACE, 'rotated=now']);
    const after = await waitFor('a new checksum', async () => {
      const object = await k.get('deployment', SERVER);
      return checksum(object) !== checksum(before) ? object : undefined;
    });
    assert.match(checksum(after) ?? '', /^[0-9a-f]{64}$/);
  });
});
