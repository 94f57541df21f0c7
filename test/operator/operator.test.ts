/**
 * The operator on the real API server of the test bed, installed the way users install it:
 * the chart with the real `helm install` (CRDs, ServiceAccount, RBAC), then `kubesftp operator`
 * as a process whose kubeconfig holds a token of the chart's ServiceAccount, so every request
 * it makes is checked against the chart's RBAC. An SftpServer and SftpUsers are applied with
 * kubectl; the owned objects are checked, the account is read from the real PostgreSQL, and
 * `kubesftp serve` runs as the Deployment's pod would (test/operator/pod.ts) so that the real
 * OpenSSH `sftp` logs in with the generated password and with a key. Then: password rotation,
 * deletion, a GitOps re-apply that writes nothing, and CEL rules refusing bad objects.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../testbed/wait.js';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  startKubernetes,
  startPostgres,
  type KubernetesEnv,
  type PostgresEnv,
} from '../env/testbed.js';
import { makeKeyPair, repoRoot, sha256File, type ClientAuth } from '../integration/harness.js';
import {
  RELEASE_NAMESPACE,
  TEST_IMAGE,
  condition,
  decode,
  installChart,
  podKnownHosts,
  sftpInPod,
  writeOperatorKubeconfig,
  type KubeObject,
} from './cluster.js';
import { startHelm, type Helm } from './helm.js';
import { operatorWrites, spawnOperator, type OperatorProcess } from './operator-process.js';
import { startPod, waitUntilReady, type PodSpec, type RunningPod } from './pod.js';

const NAMESPACE = 'sftp-apps';
const SERVER = 'files';
const RESYNC_SECONDS = 4;
const DELETION_TIMEOUT_SECONDS = 5;
const SHUTDOWN_GRACE = 20;

const SERVICE_MONITOR_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

const serverYaml = `apiVersion: kubesftp.io/v1alpha1
kind: SftpServer
metadata:
  name: ${SERVER}
  namespace: ${NAMESPACE}
spec:
  replicas: 2
  service:
    port: 2222
  database:
    secretRef:
      name: files-db
  storage:
    persistentVolumeClaim:
      size: 1Gi
  config:
    sftpd:
      shutdown_grace_period: ${SHUTDOWN_GRACE}
      max_auth_tries: 4
`;

const userYaml = (name: string, publicKey: string): string => `apiVersion: kubesftp.io/v1alpha1
kind: SftpUser
metadata:
  name: ${name}
  namespace: ${NAMESPACE}
spec:
  serverRef:
    name: ${SERVER}
  password:
    generate: true
  publicKeys:
    - ${publicKey}
  permissions:
    /: ['*']
  quota:
    size: 1Gi
`;

function decodeConfig(configMap: KubeObject): string {
  const text = configMap.data?.['kubesftp.json'];
  assert.ok(text !== undefined, 'the ConfigMap holds kubesftp.json');
  return text;
}

/** `kubesftp operator` as a process, with the chart's ServiceAccount's token. */
function startOperatorProcess(kubeconfig: string): OperatorProcess {
  return spawnOperator({
    kubeconfig,
    defaultImage: TEST_IMAGE,
    leaderElectionNamespace: RELEASE_NAMESPACE,
    resyncSeconds: RESYNC_SECONDS,
    hashIterations: 10_000,
    deletionTimeoutSeconds: DELETION_TIMEOUT_SECONDS,
    verbose: true,
  });
}

void describe('the operator on a real API server', { timeout: 600_000 }, () => {
  let kube: KubernetesEnv;
  let postgres: PostgresEnv;
  let databaseUrl: string;
  let helm: Helm;
  let operator: OperatorProcess | undefined;
  let standby: OperatorProcess | undefined;
  let operatorKubeconfig: string;
  let pod: RunningPod | undefined;
  let work: string;
  let homes: string;
  let key: { privatePath: string; publicKey: string };
  let aliceYaml: string;

  const get = async (kind: string, name: string, namespace = NAMESPACE): Promise<KubeObject> =>
    JSON.parse(
      await kube.kubectl(['get', kind, name, '-n', namespace, '-o', 'json']),
    ) as KubeObject;
  const eventsOf = async (name: string): Promise<Array<{ reason: string; type: string }>> => {
    const selector = `involvedObject.name=${name}`;
    const list = await kube.kubectl([
      'get',
      'events',
      '-n',
      NAMESPACE,
      '--field-selector',
      selector,
      '-o',
      'json',
    ]);
    return (JSON.parse(list) as { items: Array<{ reason: string; type: string }> }).items;
  };
  const apply = (yaml: string): Promise<string> =>
    kube.kubectl(['apply', '-f', '-'], { input: yaml });
  const query = async (sql: string, params: unknown[] = []): Promise<pg.QueryResult> => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return await client.query(sql, params);
    } finally {
      await client.end();
    }
  };

  /** The real sftp client, inside the pod's network namespace, checking the host key the Secret published. */
  async function sftp(
    auth: ClientAuth,
    commands: string[],
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const knownHosts = join(work, 'known_hosts');
    await podKnownHosts(await get('secret', 'alice-credentials'), knownHosts);
    return sftpInPod({ pod: pod!, work, knownHosts, auth, commands });
  }

  /** `kubesftp serve` as the Deployment's pod runs it, on the test's homes directory. */
  async function startServerPod(): Promise<PodSpec> {
    const deployment = await get('deployment', SERVER);
    const spec = (deployment.spec!['template'] as { spec: PodSpec }).spec;
    pod = await startPod(spec, {
      configMap: (name) => get('configmap', name),
      secret: (name) => get('secret', name),
      claim: () => homes,
      forwardPorts: [postgres.port],
    });
    await waitUntilReady(pod);
    return spec;
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-operator-'));
    homes = join(work, 'homes');
    await mkdir(homes);
    key = await makeKeyPair(work, 'ed25519');
    aliceYaml = userYaml('alice', key.publicKey);
    [kube, postgres, helm] = await Promise.all([startKubernetes(), startPostgres(), startHelm()]);
    databaseUrl = postgres.url(await postgres.createDatabase('operator'));
  });

  after(async () => {
    await pod?.stop();
    await operator?.stop();
    await standby?.stop();
    if (operator !== undefined && process.exitCode)
      process.stderr.write(`${operator.logs.slice(-80).join('\n')}\n`);
    await helm?.close();
    await Promise.all([kube?.stop(), postgres?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  void it('installs with helm install: CRDs, ServiceAccount and RBAC', async () => {
    await installChart(helm, kube);
    const crds = await kube.kubectl(['get', 'crd', '-o', 'name']);
    assert.match(crds, /sftpservers\.kubesftp\.io/);
    assert.match(crds, /sftpusers\.kubesftp\.io/);
    const explained = await waitFor('kubectl explain', () =>
      kube.kubectl(['explain', 'sftpuser.spec.password.generate']),
    );
    assert.match(explained, /Generate a password into the Secret/);
    await get('serviceaccount', 'kubesftp-operator', RELEASE_NAMESPACE);
    // The plain manifests are accepted by the same API server.
    const manifests = join(repoRoot, 'manifests');
    assert.match(
      await kube.kubectl(['apply', '-k', manifests, '--dry-run=server']),
      /serviceaccount\/kubesftp-operator/,
    );
  });

  void it('runs as a process with a kubeconfig holding the ServiceAccount token', async () => {
    const kubeconfig = await writeOperatorKubeconfig(kube, work);
    await kube.kubectl(['create', 'namespace', NAMESPACE]);
    operatorKubeconfig = kubeconfig;
    operator = startOperatorProcess(kubeconfig);
    await operator.running();
    const lease = await get('lease', 'kubesftp-operator', RELEASE_NAMESPACE);
    assert.ok(
      (lease.spec?.['holderIdentity'] as string).length > 0,
      'the operator holds the Lease',
    );
  });

  void it('turns an SftpServer into its ConfigMap, host-key Secret, Deployment, Services and PDB', async () => {
    await kube.kubectl([
      'create',
      'secret',
      'generic',
      'files-db',
      '-n',
      NAMESPACE,
      `--from-literal=uri=${databaseUrl}`,
    ]);
    await apply(serverYaml);
    const deployment = await waitFor('the Deployment', () =>
      get('deployment', SERVER).catch(() => undefined),
    );
    for (const [kind, name] of [
      ['configmap', `${SERVER}-config`],
      ['secret', `${SERVER}-host-keys`],
      ['secret', `${SERVER}-master-key`],
      ['service', SERVER],
      ['service', `${SERVER}-http`],
      ['poddisruptionbudget', SERVER],
    ] as const) {
      const object = await get(kind, name);
      const owner = object.metadata.ownerReferences?.find((ref) => ref.controller === true);
      assert.equal(owner?.kind, 'SftpServer', `${kind} ${name} is owned by the SftpServer`);
    }
    // The homes claim outlives the SftpServer: no owner, so the garbage collector keeps the data.
    const claim = await get('persistentvolumeclaim', `${SERVER}-homes`);
    assert.equal(claim.metadata.ownerReferences, undefined);
    const template = deployment.spec!['template'] as {
      metadata: { annotations: Record<string, string> };
      spec: PodSpec & Record<string, unknown>;
    };
    assert.match(
      template.metadata.annotations['kubesftp.io/config-checksum'] ?? '',
      /^[0-9a-f]{64}$/,
    );
    assert.ok((template.spec['terminationGracePeriodSeconds'] as number) > SHUTDOWN_GRACE);
    assert.equal(template.spec['shareProcessNamespace'], true, 'orphans are reaped by pause');
    const container = template.spec.containers[0] as unknown as Record<
      string,
      Record<string, unknown>
    >;
    assert.deepEqual(container['readinessProbe']!['httpGet'], {
      path: '/healthz',
      port: 'http',
      scheme: 'HTTP',
    });
    assert.ok(container['lifecycle']!['preStop'], 'a preStop pause lets endpoints drop the pod');
    assert.equal(
      (await get('service', SERVER)).spec!['ports'] &&
        ((await get('service', SERVER)).spec!['ports'] as Array<{ port: number }>)[0]!.port,
      2222,
    );
    const server = await waitFor('the server status', async () => {
      const object = await get('sftpserver', SERVER);
      return (object.status?.['hostKeys'] as unknown[] | undefined)?.length ? object : undefined;
    });
    assert.equal(condition(server, 'Degraded')?.status, 'False');
    const hostKeys = server.status!['hostKeys'] as Array<{ type: string; fingerprint: string }>;
    assert.ok(
      hostKeys.some((k) => k.type === 'ssh-ed25519' && k.fingerprint.startsWith('SHA256:')),
    );
  });

  void it('writes an SftpUser to PostgreSQL with a generated password Secret', async () => {
    await apply(aliceYaml);
    const user = await waitFor('alice Synced', async () => {
      const object = await get('sftpuser', 'alice');
      return condition(object, 'Synced')?.status === 'True' ? object : undefined;
    });
    assert.deepEqual(user.metadata.finalizers, ['kubesftp.io/account']);
    const credentials = await waitFor('known_hosts in the credentials', async () => {
      const secret = await get('secret', 'alice-credentials');
      return decode(secret, 'known_hosts').includes('ssh-ed25519') ? secret : undefined;
    });
    assert.equal(decode(credentials, 'username'), 'alice');
    assert.equal(decode(credentials, 'host'), `${SERVER}.${NAMESPACE}.svc`);
    assert.equal(decode(credentials, 'port'), '2222');
    assert.ok(decode(credentials, 'password').length >= 32);
    const { rows } = await query(
      'SELECT username, password, managed_by, quota_size, home_dir FROM users WHERE username = $1',
      ['alice'],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].managed_by, `${NAMESPACE}/alice`);
    // A generated password is random enough to need no stretching (decision 0018).
    assert.match(rows[0].password as string, /^\$pbkdf2-sha256\$1000\$/);
    assert.equal(Number(rows[0].quota_size), 2 ** 30);
    assert.equal(rows[0].home_dir, '/srv/sftp/alice');
    await waitFor('the AccountCreated Event', async () =>
      (await eventsOf('alice')).some((event) => event.reason === 'AccountCreated')
        ? true
        : undefined,
    );
  });

  void it('serves the account from a server run as the pod: password and key, bytes intact', async () => {
    const spec = await startServerPod();
    const credentials = await get('secret', 'alice-credentials');
    const password = decode(credentials, 'password');
    const upload = join(work, 'upload.bin');
    await writeFile(upload, randomBytes(3 * 1024 * 1024 + 7));
    const put = await sftp({ username: 'alice', password }, [`put ${upload} data.bin`]);
    assert.equal(put.code, 0, put.stderr);
    const download = join(work, 'download.bin');
    const got = await sftp({ username: 'alice', keyPath: key.privatePath }, [
      `get data.bin ${download}`,
    ]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(await sha256File(download), await sha256File(upload));
    const stored = join(homes, 'alice', 'data.bin');
    assert.equal(await sha256File(stored), await sha256File(upload));
    assert.equal(
      (await stat(stored)).uid,
      spec.securityContext.runAsUser,
      'written as the pod user',
    );
  });

  void it('applies a rotated password: the new one logs in, the old one no longer does', async () => {
    const before = await get('secret', 'alice-credentials');
    const old = decode(before, 'password');
    const rotated = randomBytes(24).toString('base64url');
    await kube.kubectl([
      'patch',
      'secret',
      'alice-credentials',
      '-n',
      NAMESPACE,
      '--type',
      'merge',
      '-p',
      JSON.stringify({ data: { password: Buffer.from(rotated).toString('base64') } }),
    ]);
    await waitFor('the rotated password applied', async () => {
      const user = await get('sftpuser', 'alice');
      const applied = (user.status?.['appliedSecrets'] as Record<string, string> | undefined)?.[
        'alice-credentials'
      ];
      return applied !== undefined && applied !== before.metadata.resourceVersion
        ? true
        : undefined;
    });
    // A password put in by hand may be guessable: it gets the full hash cost.
    const { rows } = await query('SELECT password FROM users WHERE username = $1', ['alice']);
    assert.match(rows[0].password as string, /^\$pbkdf2-sha256\$10000\$/);
    const fresh = await sftp({ username: 'alice', password: rotated }, ['ls']);
    assert.equal(fresh.code, 0, fresh.stderr);
    const stale = await sftp({ username: 'alice', password: old }, ['ls']);
    assert.notEqual(stale.code, 0, 'the old password is refused');
  });

  void it('takes public keys from a ConfigMap, and applies a change of it', async () => {
    const configMap = (publicKey: string): string => `apiVersion: v1
kind: ConfigMap
metadata:
  name: dave-keys
  namespace: ${NAMESPACE}
data:
  authorized_keys: |
    # dave's laptop
    ${publicKey}
`;
    await apply(configMap(key.publicKey));
    await apply(`apiVersion: kubesftp.io/v1alpha1
kind: SftpUser
metadata:
  name: dave
  namespace: ${NAMESPACE}
spec:
  serverRef:
    name: ${SERVER}
  publicKeysFrom:
    - configMapKeyRef:
        name: dave-keys
`);
    await waitFor('dave Synced', async () =>
      condition(await get('sftpuser', 'dave'), 'Synced')?.status === 'True' ? true : undefined,
    );
    const first = await sftp({ username: 'dave', keyPath: key.privatePath }, ['ls']);
    assert.equal(first.code, 0, first.stderr);
    const keyDir = join(work, 'dave');
    await mkdir(keyDir);
    const second = await makeKeyPair(keyDir, 'ed25519');
    await apply(configMap(second.publicKey));
    await waitFor('the new key applied', async () => {
      const { rows } = await query('SELECT public_keys FROM users WHERE username = $1', ['dave']);
      return JSON.stringify(rows[0]?.public_keys).includes(second.publicKey.split(' ')[1]!)
        ? true
        : undefined;
    });
    const fresh = await sftp({ username: 'dave', keyPath: second.privatePath }, ['ls']);
    assert.equal(fresh.code, 0, fresh.stderr);
    const stale = await sftp({ username: 'dave', keyPath: key.privatePath }, ['ls']);
    assert.notEqual(stale.code, 0, 'the key removed from the ConfigMap is refused');
  });

  void it('re-applying the same YAML writes nothing, through several resyncs', async () => {
    const watched: Array<[string, string]> = [
      ['sftpserver', SERVER],
      ['sftpuser', 'alice'],
      ['configmap', `${SERVER}-config`],
      ['secret', `${SERVER}-host-keys`],
      ['secret', 'alice-credentials'],
      ['deployment', SERVER],
      ['service', SERVER],
      ['service', `${SERVER}-http`],
      ['poddisruptionbudget', SERVER],
    ];
    const versions = async (): Promise<string[]> =>
      Promise.all(
        watched.map(
          async ([kind, name]) =>
            `${kind}/${name}@${(await get(kind, name)).metadata.resourceVersion}`,
        ),
      );
    const row = async (): Promise<unknown> =>
      (await query('SELECT * FROM users WHERE username = $1', ['alice'])).rows[0];
    const [firstVersions, firstRow, firstWrites] = [
      await versions(),
      await row(),
      await operatorWrites(operator!.metricsPort()),
    ];
    assert.ok(firstWrites > 0, 'the metric counts the writes made so far');
    await apply(serverYaml);
    await apply(aliceYaml);
    await sleep((RESYNC_SECONDS * 2 + 2) * 1000);
    assert.deepEqual(await versions(), firstVersions);
    assert.deepEqual(await row(), firstRow);
    assert.equal(
      await operatorWrites(operator!.metricsPort()),
      firstWrites,
      'the operator made no write request',
    );
  });

  void it('refuses bad objects at admission with readable CEL messages', async () => {
    const refused = async (yaml: string, message: RegExp): Promise<void> => {
      await assert.rejects(apply(yaml), (err: Error) => {
        assert.match(err.message, message);
        return true;
      });
    };
    await refused(
      aliceYaml.replace('    generate: true', '    generate: true\n    secretRef:\n      name: x'),
      /set either secretRef or generate: true/,
    );
    await refused(
      aliceYaml.replace(
        'publicKeys:\n',
        'publicKeysFrom:\n    - secretKeyRef: {name: a}\n      configMapKeyRef: {name: b}\n  publicKeys:\n',
      ),
      /set either secretKeyRef or configMapKeyRef/,
    );
    await refused(
      aliceYaml.replace(`    name: ${SERVER}`, '    name: elsewhere'),
      /serverRef is immutable/,
    );
    await refused(
      aliceYaml.replace('spec:\n', 'spec:\n  username: bob\n'),
      /spec\.username is immutable/,
    );
    await refused(
      aliceYaml.replace("/: ['*']", "/uploads/: ['*']"),
      /permissions must include "\/"/,
    );
    await refused(
      serverYaml.replace('      size: 1Gi', '      size: 1Gi\n      claimName: other'),
      /set claimName to use an existing claim, or size to have one created, not both/,
    );
    await refused(
      serverYaml.replace('    port: 2222', '    port: 2222\n    nodePort: 30022'),
      /nodePort needs type NodePort or LoadBalancer/,
    );
  });

  void it('adds a NetworkPolicy and a ServiceMonitor when asked, and removes them when no longer asked', async () => {
    // The Prometheus Operator's CRD, reduced to what the API server needs to serve the kind.
    await apply(SERVICE_MONITOR_CRD);
    await kube.kubectl([
      'wait',
      '--for',
      'condition=Established',
      'crd/servicemonitors.monitoring.coreos.com',
    ]);
    const extras = [
      '  networkPolicy:',
      '    enabled: true',
      '  metrics:',
      '    serviceMonitor:',
      '      enabled: true',
      '      interval: 30s',
      '',
    ].join('\n');
    await apply(serverYaml + extras);
    const owned = async (kind: string): Promise<KubeObject> =>
      waitFor(`the ${kind}`, async () => {
        const object = await get(kind, SERVER).catch(() => undefined);
        return object?.metadata.ownerReferences?.[0]?.kind === 'SftpServer' ? object : undefined;
      });
    const policy = await owned('networkpolicy');
    const ingress = policy.spec!['ingress'] as Array<{ ports: Array<{ port: number }> }>;
    assert.deepEqual(ingress[0]!.ports, [{ protocol: 'TCP', port: 2022 }]);
    const monitor = await owned('servicemonitor');
    assert.deepEqual(monitor.spec!['endpoints'], [
      { port: 'http', path: '/metrics', interval: '30s' },
    ]);
    await apply(serverYaml);
    for (const kind of ['networkpolicy', 'servicemonitor']) {
      await waitFor(`the ${kind} removed`, async () =>
        (await get(kind, SERVER).catch(() => undefined)) === undefined ? true : undefined,
      );
    }
  });

  void it('writes back an account changed in the database behind its back', async () => {
    await query('UPDATE users SET quota_size = 5, status = 0 WHERE username = $1', ['alice']);
    await waitFor(
      'the account reverted at a resync',
      async () => {
        const { rows } = await query('SELECT quota_size, status FROM users WHERE username = $1', [
          'alice',
        ]);
        return Number(rows[0].quota_size) === 2 ** 30 && Number(rows[0].status) === 1
          ? true
          : undefined;
      },
      (RESYNC_SECONDS + 10) * 1000,
    );
  });

  void it('rolls the pods when the config changes: new ConfigMap, new checksum', async () => {
    const checksum = async (): Promise<string> => {
      const deployment = await get('deployment', SERVER);
      const template = deployment.spec!['template'] as {
        metadata: { annotations: Record<string, string> };
      };
      return template.metadata.annotations['kubesftp.io/config-checksum']!;
    };
    const before = await checksum();
    await apply(serverYaml.replace('max_auth_tries: 4', 'max_auth_tries: 5'));
    await waitFor('a new checksum', async () => ((await checksum()) !== before ? true : undefined));
    const config = JSON.parse(decodeConfig(await get('configmap', `${SERVER}-config`))) as {
      sftpd: { max_auth_tries: number; bind_port: number };
    };
    assert.equal(config.sftpd.max_auth_tries, 5);
    assert.equal(config.sftpd.bind_port, 2022);
  });

  void it('sizes sftpd.workers from the CPU limit unless spec.config sets it', async () => {
    const workersIn = async (): Promise<number | undefined> => {
      const configMap = await get('configmap', `${SERVER}-config`);
      return (JSON.parse(decodeConfig(configMap)) as { sftpd: { workers?: number } }).sftpd.workers;
    };
    const awaitWorkers = (expected: number): Promise<true> =>
      waitFor(`sftpd.workers ${expected}`, async () =>
        (await workersIn()) === expected ? true : undefined,
      );
    assert.equal(await workersIn(), 1, 'no CPU limit: one process');
    const limited = serverYaml.replace(
      '  replicas: 2\n',
      '  replicas: 2\n  resources:\n    requests: {cpu: 500m, memory: 256Mi}\n    limits: {cpu: "2", memory: 512Mi}\n',
    );
    await apply(limited);
    await awaitWorkers(0);
    const deployment = await get('deployment', SERVER);
    const container = (deployment.spec!['template'] as { spec: PodSpec }).spec
      .containers[0] as unknown as { resources: { limits: Record<string, string> } };
    assert.equal(container.resources.limits['cpu'], '2', 'the limit the server reads as cpu.max');
    await apply(
      limited.replace('      max_auth_tries: 4\n', '      max_auth_tries: 4\n      workers: 3\n'),
    );
    await awaitWorkers(3);
    // Only requests: no quota in the pod's cgroup, so no automatic count either.
    await apply(limited.replace('    limits: {cpu: "2", memory: 512Mi}\n', ''));
    await awaitWorkers(1);
    await apply(serverYaml);
    await awaitWorkers(1);
  });

  void it('hands over to a standby when the leader is killed, which converges what changed meanwhile', async () => {
    standby = startOperatorProcess(operatorKubeconfig);
    await waitFor('the standby to wait for the lease', () =>
      standby!.logs.some((line) => line.includes('waiting for the leader lease'))
        ? true
        : undefined,
    );
    await sleep(1_000);
    assert.ok(
      !standby.logs.some((line) => line.includes('operator running')),
      'only one operator works',
    );
    await operator!.stop('SIGKILL');
    await kube.kubectl([
      'create',
      'secret',
      'generic',
      'bob-login',
      '-n',
      NAMESPACE,
      '--type',
      'kubernetes.io/basic-auth',
      '--from-literal=username=bob',
      '--from-literal=password=bob-first-password',
    ]);
    await apply(
      aliceYaml
        .replaceAll('alice', 'bob')
        .replace('    generate: true', '    secretRef:\n      name: bob-login'),
    );
    await standby.running(60_000);
    [operator, standby] = [standby, undefined];
    await waitFor('bob Synced', async () =>
      condition(await get('sftpuser', 'bob'), 'Synced')?.status === 'True' ? true : undefined,
    );
    const login = await sftp({ username: 'bob', password: 'bob-first-password' }, ['ls']);
    assert.equal(login.code, 0, login.stderr);
  });

  void it('reports a missing server on the user, and deleting that user does not hang', async () => {
    await apply(
      aliceYaml.replaceAll('alice', 'carol').replace(`    name: ${SERVER}`, '    name: nowhere'),
    );
    const carol = await waitFor('carol refused', async () => {
      const object = await get('sftpuser', 'carol');
      return condition(object, 'Synced')?.status === 'False' ? object : undefined;
    });
    assert.equal(condition(carol, 'Synced')?.reason, 'ServerNotFound');
    assert.equal(condition(carol, 'Ready')?.status, 'False');
    const started = Date.now();
    await kube.kubectl(
      ['delete', 'sftpuser', 'carol', '-n', NAMESPACE, '--wait=true', '--timeout=90s'],
      {
        timeoutMs: 100_000,
      },
    );
    assert.ok(
      Date.now() - started >= DELETION_TIMEOUT_SECONDS * 1000 - 1000,
      'it waited for the server first',
    );
    const events = await eventsOf('carol');
    assert.ok(
      events.some((event) => event.reason === 'AccountLeftBehind' && event.type === 'Warning'),
    );
  });

  void it('reclaimPolicy Delete removes the home data when the SftpUser is deleted; Retain keeps it', async () => {
    await apply(`${userYaml('dave', key.publicKey)}  reclaimPolicy: Delete\n`);
    await apply(userYaml('erin', key.publicKey));
    const passwords: Record<string, string> = {};
    const uploaded: Record<string, string> = {};
    for (const name of ['dave', 'erin']) {
      await waitFor(`${name} Synced`, async () =>
        condition(await get('sftpuser', name), 'Synced')?.status === 'True' ? true : undefined,
      );
      passwords[name] = decode(await get('secret', `${name}-credentials`), 'password');
      const upload = join(work, `${name}.bin`);
      await writeFile(upload, randomBytes(1024 * 1024 + 13));
      const put = await sftp({ username: name, password: passwords[name] }, [
        'mkdir sub',
        `put ${upload} sub/data.bin`,
      ]);
      assert.equal(put.code, 0, put.stderr);
      uploaded[name] = await sha256File(upload);
      assert.equal(await sha256File(join(homes, name, 'sub/data.bin')), uploaded[name]);
    }
    for (const name of ['dave', 'erin']) {
      await kube.kubectl([
        'delete',
        'sftpuser',
        name,
        '-n',
        NAMESPACE,
        '--wait=true',
        '--timeout=60s',
      ]);
    }
    // The pod's sweep (every 5 s) removes the home; the operator only recorded the removal.
    await waitFor('the home of dave removed by the server', async () =>
      (await stat(join(homes, 'dave')).catch(() => undefined)) === undefined ? true : undefined,
    );
    assert.ok(
      pod!.logLines.some(
        (line) =>
          line['message'] === 'removed the home of a deleted account' &&
          line['username'] === 'dave',
      ),
      'the server logged the removal',
    );
    assert.equal(
      await sha256File(join(homes, 'erin', 'sub/data.bin')),
      uploaded['erin'],
      'Retain keeps the data',
    );
    const { rows } = await query('SELECT 1 FROM home_removals');
    assert.equal(rows.length, 0, 'no removal left pending');
    const events = await eventsOf('dave');
    assert.ok(events.some((event) => event.reason === 'AccountDeleted'));

    // The same user again gets a fresh, empty home that no later sweep touches. (The bed runs
    // no garbage collector: the old generated Secret goes by hand, as its owner is gone.)
    await kube.kubectl([
      'delete',
      'secret',
      'dave-credentials',
      '-n',
      NAMESPACE,
      '--ignore-not-found',
    ]);
    await apply(`${userYaml('dave', key.publicKey)}  reclaimPolicy: Delete\n`);
    await waitFor('dave Synced again', async () =>
      condition(await get('sftpuser', 'dave'), 'Synced')?.status === 'True' ? true : undefined,
    );
    const password = decode(await get('secret', 'dave-credentials'), 'password');
    const listed = await sftp({ username: 'dave', password }, [
      'ls -1 /',
      'put ' + join(work, 'dave.bin') + ' again.bin',
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.doesNotMatch(listed.stdout, /^sub$/m, 'the old data is gone');
    await sleep(6_000);
    assert.equal(await sha256File(join(homes, 'dave', 'again.bin')), uploaded['dave']);
  });

  void it('a user applied again while its old home awaits removal waits, then starts empty', async () => {
    // No server runs: the removal stays pending, as if the pods were slow to sweep.
    await pod!.stop();
    const frankYaml = `${userYaml('frank', key.publicKey)}  reclaimPolicy: Delete\n`;
    await apply(frankYaml);
    const synced = async (): Promise<true | undefined> =>
      condition(await get('sftpuser', 'frank'), 'Synced')?.status === 'True' ? true : undefined;
    await waitFor('frank Synced', synced);
    // What frank uploaded before, owned by the pod's user as its uploads would be.
    const deployment = await get('deployment', SERVER);
    const runAs = (deployment.spec!['template'] as { spec: PodSpec }).spec.securityContext
      .runAsUser;
    await mkdir(join(homes, 'frank/old'), { recursive: true });
    await writeFile(join(homes, 'frank/old/left.txt'), 'from before\n');
    for (const path of ['frank', 'frank/old', 'frank/old/left.txt']) {
      await chown(join(homes, path), runAs, runAs);
    }
    await kube.kubectl(['delete', 'sftpuser', 'frank', '-n', NAMESPACE, '--wait=true']);
    await kube.kubectl(['delete', 'secret', 'frank-credentials', '-n', NAMESPACE]);
    const { rows } = await query('SELECT home_dir FROM home_removals');
    assert.deepEqual(rows, [{ home_dir: '/srv/sftp/frank' }]);

    await apply(frankYaml);
    const waiting = await waitFor('frank waiting for its home', async () => {
      const object = await get('sftpuser', 'frank');
      return condition(object, 'Synced')?.reason === 'HomeBeingRemoved' ? object : undefined;
    });
    assert.equal(condition(waiting, 'Ready')?.status, 'False');
    assert.equal(await readFile(join(homes, 'frank/old/left.txt'), 'utf8'), 'from before\n');

    await startServerPod();
    await waitFor('frank Synced once the old home is removed', synced);
    const password = decode(await get('secret', 'frank-credentials'), 'password');
    const upload = join(work, 'frank.bin');
    await writeFile(upload, randomBytes(200_000));
    const session = await sftp({ username: 'frank', password }, ['ls -1', `put ${upload} new.bin`]);
    assert.equal(session.code, 0, session.stderr);
    assert.doesNotMatch(session.stdout, /^old$/m, 'the old data is gone');
    await sleep(6_000);
    assert.equal(await sha256File(join(homes, 'frank/new.bin')), await sha256File(upload));
  });

  void it('removes the account when the SftpUser is deleted', async () => {
    const password = decode(await get('secret', 'alice-credentials'), 'password');
    await kube.kubectl([
      'delete',
      'sftpuser',
      'alice',
      '-n',
      NAMESPACE,
      '--wait=true',
      '--timeout=60s',
    ]);
    const { rows } = await query('SELECT 1 FROM users WHERE username = $1', ['alice']);
    assert.equal(rows.length, 0);
    const login = await sftp({ username: 'alice', password }, ['ls']).catch(() => ({
      code: 1,
      stdout: '',
      stderr: '',
    }));
    assert.notEqual(login.code, 0);
  });
});
