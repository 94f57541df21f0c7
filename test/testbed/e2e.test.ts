/**
 * kubesftp end to end on the real node, installed the way users install it: `helm install` of
 * charts/kubesftp with the image built here, the operator running as its pod (in-cluster
 * credentials through the kubernetes Service), an SftpServer of two replicas on the test's
 * PostgreSQL (listening on the bridge for the pods) with homes on a ReadWriteMany hostPath
 * volume, an SftpUser with a generated password, the real OpenSSH `sftp` through the NodePort
 * and to each pod, a config change that rolls the pods under a running download, and an
 * uninstall that leaves nothing behind but the homes.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import {
  buildKubesftpImage,
  startKubernetes,
  startPostgres,
  type KubernetesEnv,
  type KubernetesNode,
  type PostgresEnv,
} from '../env/testbed.js';
import {
  askpassEnv,
  sha256File,
  sshOptions,
  type ClientAuth,
  type ClientResult,
} from '../integration/harness.js';
import { CHART_DIR, startHelm, type Helm } from '../operator/helm.js';
import { sshIdent } from './ssh-ident.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);
const RELEASE = 'kubesftp';
const RELEASE_NAMESPACE = 'kubesftp-system';
const NAMESPACE = 'sftp-e2e';
const SERVER = 'files';
const USER = 'alice';
const STORAGE_CLASS = 'kubesftp-e2e-homes';
/** The pods' uid and gid (the image's user): a hostPath volume gets no fsGroup. */
const POD_UID = 65532;
/** Long enough for a pod to drain the slow download while the roll goes on. */
const SHUTDOWN_GRACE = 180;
const serverPods = ['-n', NAMESPACE, '-l', `app.kubernetes.io/instance=${SERVER}`];

interface KubeObject {
  metadata: { name: string; deletionTimestamp?: string; ownerReferences?: unknown[] };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & {
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    podIP?: string;
  };
}

function conditionStatus(object: KubeObject, type: string): string | undefined {
  return object.status?.conditions?.find((c) => c.type === type)?.status;
}

function decode(secret: KubeObject, key: string): string {
  const value = secret.data?.[key];
  assert.ok(value !== undefined, `Secret ${secret.metadata.name} has no ${key}`);
  return Buffer.from(value, 'base64').toString('utf8');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The ReadWriteMany volume the homes claim binds to: a directory of the bed, owned by the pods' user. */
function homesVolume(path: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: 'kubesftp-e2e-homes' },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteMany'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: STORAGE_CLASS,
      hostPath: { path, type: 'Directory' },
    },
  });
}

function serverYaml(image: string, banner: string): string {
  return stringify({
    apiVersion: 'kubesftp.io/v1alpha1',
    kind: 'SftpServer',
    metadata: { name: SERVER, namespace: NAMESPACE },
    spec: {
      replicas: 2,
      image,
      imagePullPolicy: 'Never',
      service: { type: 'NodePort', port: 22 },
      database: { secretRef: { name: `${SERVER}-db` } },
      storage: { persistentVolumeClaim: { size: '1Gi', storageClassName: STORAGE_CLASS } },
      config: { sftpd: { banner, shutdown_grace_period: SHUTDOWN_GRACE } },
    },
  });
}

const userYaml = stringify({
  apiVersion: 'kubesftp.io/v1alpha1',
  kind: 'SftpUser',
  metadata: { name: USER, namespace: NAMESPACE },
  spec: {
    serverRef: { name: SERVER },
    password: { generate: true },
    permissions: { '/': ['*'] },
  },
});

void describe('kubesftp end to end on a real node', { timeout: 1_800_000 }, () => {
  let env: KubernetesEnv;
  let node: KubernetesNode;
  let postgres: PostgresEnv;
  let helm: Helm;
  let image: string;
  let work: string;
  let auth: ClientAuth;
  let knownHosts: string;
  const timings: Record<string, number> = {};
  let testsStarted = 0;

  const kubectl = (args: string[], timeoutMs = 60_000): Promise<string> =>
    env.kubectl(args, { timeoutMs });
  const apply = (yaml: string): Promise<string> =>
    env.kubectl(['apply', '-f', '-'], { input: yaml });
  const get = async (kind: string, name: string, namespace = NAMESPACE): Promise<KubeObject> =>
    JSON.parse(await kubectl(['get', kind, name, '-n', namespace, '-o', 'json'])) as KubeObject;
  const list = async (args: string[]): Promise<KubeObject[]> =>
    (JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as { items: KubeObject[] }).items;
  /** What the cluster says when something did not get ready: the reason, not just a timeout. */
  const diagnose = async (): Promise<string> => {
    const parts = await Promise.all(
      [
        kubectl(['get', 'sftpserver,sftpuser,deploy,pods,pvc,svc', '-n', NAMESPACE, '-o', 'wide']),
        kubectl(['get', 'sftpserver', SERVER, '-n', NAMESPACE, '-o', 'jsonpath={.status}']),
        kubectl(['describe', 'pods', ...serverPods]),
        kubectl(['logs', '--tail=20', '--prefix', ...serverPods]),
        kubectl(['get', 'pods', '-n', RELEASE_NAMESPACE, '-o', 'wide']),
        kubectl(['logs', '--tail=40', '-n', RELEASE_NAMESPACE, `deployment/${RELEASE}-operator`]),
        kubectl(['get', 'events', '-A', '--sort-by=.lastTimestamp']),
      ].map((part) => part.catch(String)),
    );
    return parts.join('\n---\n');
  };
  const livePods = async (): Promise<KubeObject[]> =>
    (await list(['pods', ...serverPods])).filter((pod) => !pod.metadata.deletionTimestamp);
  const nodePort = async (): Promise<number> => {
    const service = await get('service', SERVER);
    const port = (service.spec!['ports'] as Array<{ nodePort?: number }>)[0]?.nodePort;
    assert.ok(port, `Service ${SERVER} has no nodePort`);
    return port;
  };
  /** The real `sftp`, checking the host key the credentials Secret publishes. */
  const sftp = async (
    host: string,
    port: number,
    commands: string[],
    extraArgs: string[] = [],
  ): Promise<ClientResult> => {
    const batch = join(work, `batch-${randomBytes(4).toString('hex')}`);
    await writeFile(batch, `${commands.join('\n')}\n`);
    // The first value of an option wins: these come before sshOptions' defaults.
    const args = [
      ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`],
      sshOptions(port, auth, '-P'),
      extraArgs,
      ['-b', batch, `${auth.username}@${host}`],
    ].flat();
    const childEnv = await askpassEnv(work, auth.password);
    return new Promise((resolve) => {
      const child = spawn('sftp', args, {
        env: childEnv,
        cwd: work,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  };

  before(async () => {
    const bedStarted = Date.now();
    env = await startKubernetes({ node: true, nodeLockTimeoutMs: 900_000 });
    timings['bed'] = Date.now() - bedStarted;
    assert.ok(env.node, 'startKubernetes({ node: true }) returned no node');
    node = env.node;
    work = await mkdtemp(join(env.tempDir, 'e2e-'));
    const imageStarted = Date.now();
    const built = await buildKubesftpImage();
    await node.importImage(built.tarball);
    image = built.name;
    timings['image'] = Date.now() - imageStarted;
    // The pods reach the database on the bridge's host address; loopback stays as it was.
    postgres = await startPostgres({
      alsoListen: { address: node.address, clients: node.podCidr },
    });
    helm = await startHelm();
    testsStarted = Date.now();
  });

  after(async () => {
    await helm?.close();
    await postgres?.stop();
    await env?.stop();
    process.stdout.write(`# e2e timings (ms): ${JSON.stringify(timings)}\n`);
  });

  void it(
    'installs the chart with helm and runs the operator as its pod',
    { timeout: 300_000 },
    async () => {
      const installStarted = Date.now();
      const tag = image.slice(image.lastIndexOf(':') + 1);
      const repository = image.slice(0, image.lastIndexOf(':'));
      await helm.run(
        [
          ['install', RELEASE, CHART_DIR, '--namespace', RELEASE_NAMESPACE, '--create-namespace'],
          ['--set', `image.repository=${repository},image.tag=${tag},image.pullPolicy=Never`],
          // The pods check every login against this many PBKDF2 rounds on a loaded machine.
          ['--set', 'operator.passwordHashIterations=100000,operator.logVerbose=true'],
        ].flat(),
        { kubeconfig: env.kubeconfigPath },
      );
      try {
        await kubectl(
          [
            'rollout',
            'status',
            '-n',
            RELEASE_NAMESPACE,
            `deployment/${RELEASE}-operator`,
            '--timeout=180s',
          ],
          190_000,
        );
      } catch (err) {
        throw new Error(
          `the operator pod did not become ready: ${(err as Error).message}\n${await diagnose()}`,
          {
            cause: err,
          },
        );
      }
      // Ready means it reached the API server through the kubernetes Service and leads.
      const lease = await get('lease', `${RELEASE}-operator`, RELEASE_NAMESPACE);
      const [operatorPod] = await list(['pods', '-n', RELEASE_NAMESPACE]);
      assert.equal(lease.spec?.['holderIdentity'], operatorPod?.metadata.name);
      // In-cluster config: the kubernetes Service's address, which kube-proxy sends to the
      // API server on the bridge (the only endpoint, named in its serving certificate).
      const serviceHost = await kubectl(
        [
          ['exec', '-n', RELEASE_NAMESPACE, operatorPod!.metadata.name, '--'],
          ['/usr/local/bin/node', '-p', 'process.env.KUBERNETES_SERVICE_HOST'],
        ].flat(),
      );
      const apiService = await get('service', 'kubernetes', 'default');
      assert.equal(serviceHost.trim(), apiService.spec?.['clusterIP']);
      const endpoints = await get('endpoints', 'kubernetes', 'default');
      assert.deepEqual(
        (endpoints as unknown as { subsets: Array<{ addresses: Array<{ ip: string }> }> }).subsets
          .flatMap((subset) => subset.addresses)
          .map((address) => address.ip),
        [node.address],
      );
      timings['operatorReady'] = Date.now() - installStarted;
    },
  );

  void it(
    'makes an SftpServer on PostgreSQL and a hostPath volume Ready with two replicas',
    { timeout: 400_000 },
    async () => {
      const serverStarted = Date.now();
      const homes = join(env.tempDir, 'homes');
      await mkdir(homes);
      await chown(homes, POD_UID, POD_UID);
      await apply(homesVolume(homes));
      await kubectl(['create', 'namespace', NAMESPACE]);
      // PostgreSQL listens on loopback and the bridge, nowhere else.
      const { stdout: listening } = await run('ss', ['-ltnH', `sport = :${postgres.port}`]);
      const addresses = listening
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => line.trim().split(/\s+/)[3]!.replace(/:\d+$/, ''))
        .sort();
      assert.deepEqual(addresses, [node.address, '127.0.0.1'].sort());
      const database = await postgres.createDatabase('e2e');
      await kubectl(
        [
          ['create', 'secret', 'generic', `${SERVER}-db`, '-n', NAMESPACE],
          [`--from-literal=uri=${postgres.url(database, node.address)}`],
        ].flat(),
      );
      await apply(serverYaml(image, 'kubesftp_e2e_one'));
      const server = await waitFor(
        'the SftpServer to be Ready with 2 replicas',
        async () => {
          const object = await get('sftpserver', SERVER);
          return conditionStatus(object, 'Ready') === 'True' &&
            object.status?.['readyReplicas'] === 2
            ? object
            : undefined;
        },
        360_000,
        diagnose,
      );
      const claim = await get('persistentvolumeclaim', `${SERVER}-homes`);
      assert.equal(claim.spec?.['volumeName'], 'kubesftp-e2e-homes');
      assert.equal(
        (server.status?.['service'] as { nodePort?: number }).nodePort,
        await nodePort(),
      );
      timings['serverReady'] = Date.now() - serverStarted;
      // Ready follows the Deployment; kube-proxy programs the NodePort from the EndpointSlice
      // a moment later (until then it rejects), as on any cluster.
      const port = await nodePort();
      await waitFor(
        'the NodePort to route to a pod',
        async () =>
          /^SSH-2\.0-kubesftp_e2e_one/.test(await sshIdent(node.address, port)) ? true : undefined,
        60_000,
        diagnose,
      );
      timings['nodePortRouted'] = Date.now() - serverStarted;
    },
  );

  void it('makes an SftpUser with a generated password Ready', { timeout: 180_000 }, async () => {
    await apply(userYaml);
    await waitFor(
      'the SftpUser to be Ready',
      async () => {
        const object = await get('sftpuser', USER);
        return conditionStatus(object, 'Ready') === 'True' ? object : undefined;
      },
      150_000,
      diagnose,
    );
    const credentials = await waitFor(
      'the credentials Secret with known_hosts',
      async () => {
        const secret = await get('secret', `${USER}-credentials`);
        return decode(secret, 'known_hosts').includes('ssh-ed25519') ? secret : undefined;
      },
      60_000,
    );
    auth = { username: decode(credentials, 'username'), password: decode(credentials, 'password') };
    assert.equal(auth.username, USER);
    // The Secret names the Service; the test reaches it through the NodePort and the pod IPs.
    const keys = decode(credentials, 'known_hosts')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => `* ${line.split(' ').slice(1).join(' ')}`);
    knownHosts = join(work, 'known_hosts');
    await writeFile(knownHosts, `${keys.join('\n')}\n`);
  });

  const data = randomBytes(4 * 1024 * 1024);

  void it(
    'lets OpenSSH sftp in through the NodePort with the password from the Secret',
    { timeout: 180_000 },
    async () => {
      await writeFile(join(work, 'up.bin'), data);
      const result = await sftp(node.address, await nodePort(), [
        'put up.bin',
        'ls -l',
        'get up.bin back.bin',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /up\.bin/);
      assert.equal(await sha256File(join(work, 'back.bin')), sha256(data));
    },
  );

  void it('shows the same file through each replica', { timeout: 180_000 }, async () => {
    const pods = await livePods();
    assert.equal(pods.length, 2, pods.map((pod) => pod.metadata.name).join(', '));
    for (const pod of pods) {
      const target = `from-${pod.metadata.name}.bin`;
      const result = await sftp(pod.status!.podIP!, 2022, [`get up.bin ${target}`]);
      assert.equal(result.code, 0, `${pod.metadata.name}: ${result.stderr}`);
      assert.equal(await sha256File(join(work, target)), sha256(data), pod.metadata.name);
    }
  });

  void it(
    'rolls the pods on a config change without dropping a running download',
    { timeout: 600_000 },
    async () => {
      const big = randomBytes(32 * 1024 * 1024);
      await writeFile(join(work, 'big.bin'), big);
      const port = await nodePort();
      const upload = await sftp(node.address, port, ['put big.bin']);
      assert.equal(upload.code, 0, upload.stderr);
      const before = await livePods();
      // 2.4 Mbit/s: the download lasts about two minutes, across the whole roll.
      const downloadStarted = Date.now();
      const download = sftp(node.address, port, ['get big.bin big-back.bin'], ['-l', '2400']);
      const servingIP = await waitFor(
        'the download connection in conntrack',
        () => servingPodIP(port),
        30_000,
      );
      const serving = before.find((pod) => pod.status?.podIP === servingIP);
      assert.ok(
        serving,
        `the download goes to ${servingIP}, none of ${before.map((p) => p.status?.podIP).join(', ')}`,
      );

      await apply(serverYaml(image, 'kubesftp_e2e_two'));
      // The pod serving the download is told to stop while the download still runs.
      const stopping = await waitFor(
        `pod ${serving.metadata.name} to be told to stop`,
        async () => {
          const pod = await get('pod', serving.metadata.name).catch(() => undefined);
          return pod === undefined || pod.metadata.deletionTimestamp ? Date.now() : undefined;
        },
        240_000,
        diagnose,
      );
      const done = await download;
      const finished = Date.now();
      assert.equal(done.code, 0, `the download was cut off: ${done.stderr}`);
      assert.equal(await sha256File(join(work, 'big-back.bin')), sha256(big));
      assert.ok(
        finished > stopping + 1_000,
        `the download (${finished - downloadStarted} ms) ended before its pod was told to stop`,
      );
      timings['slowDownload'] = finished - downloadStarted;
      timings['servingPodStopping'] = stopping - downloadStarted;
      // Every pod is new and says the new banner.
      const after = await waitFor(
        'two new Ready pods',
        async () => {
          const server = await get('sftpserver', SERVER);
          const pods = await livePods();
          const fresh = pods.every(
            (pod) => !before.some((old) => old.metadata.name === pod.metadata.name),
          );
          return conditionStatus(server, 'Ready') === 'True' && pods.length === 2 && fresh
            ? pods
            : undefined;
        },
        240_000,
        diagnose,
      );
      for (const pod of after) {
        assert.match(await sshIdent(pod.status!.podIP!, 2022), /^SSH-2\.0-kubesftp_e2e_two/);
      }
      const again = await sftp(node.address, port, ['get up.bin again.bin']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await sha256File(join(work, 'again.bin')), sha256(data));
    },
  );

  void it(
    'leaves no pod, Service or Secret behind after deleting the resources and helm uninstall',
    { timeout: 400_000 },
    async () => {
      await kubectl(['delete', 'sftpuser', USER, '-n', NAMESPACE, '--timeout=120s'], 130_000);
      await kubectl(['delete', 'sftpserver', SERVER, '-n', NAMESPACE, '--timeout=120s'], 130_000);
      await kubectl(['delete', 'secret', `${SERVER}-db`, '-n', NAMESPACE]);
      await helm.run(
        ['uninstall', RELEASE, '--namespace', RELEASE_NAMESPACE, '--wait', '--timeout', '180s'],
        {
          kubeconfig: env.kubeconfigPath,
        },
      );
      const leftovers = async (): Promise<string[]> => {
        const found: string[] = [];
        for (const namespace of [NAMESPACE, RELEASE_NAMESPACE]) {
          const objects = await list([
            'pods,services,secrets,deployments,replicasets',
            '-n',
            namespace,
          ]);
          for (const object of objects) {
            const kind = (object as unknown as { kind: string }).kind;
            // The generated host keys go with their owner; nothing else may stay.
            found.push(`${namespace}/${kind}/${object.metadata.name}`);
          }
        }
        return found;
      };
      const left = await waitFor(
        'the garbage collector and the pods to finish',
        async () => {
          const found = await leftovers();
          return found.every((entry) => entry.endsWith(`/Secret/${SERVER}-host-keys`))
            ? found
            : undefined;
        },
        240_000,
        async () => `left: ${(await leftovers()).join(', ')}`,
      );
      assert.ok(left.length <= 1, left.join(', '));
      // The homes are kept: the claim has no owner, and the volume keeps the file.
      await get('persistentvolumeclaim', `${SERVER}-homes`);
      assert.equal(await sha256File(join(env.tempDir, 'homes', USER, 'up.bin')), sha256(data));
      timings['scenario'] = Date.now() - testsStarted;
    },
  );
});

/** The pod a NodePort connection from this host was sent to, from the conntrack table. */
async function servingPodIP(nodePort: number): Promise<string | undefined> {
  const { stdout } = await run('conntrack', ['-L', '-p', 'tcp', '--dport', String(nodePort)]);
  for (const line of stdout.split('\n')) {
    if (!line.includes('ESTABLISHED')) continue;
    // The reply direction's source is the pod the connection was translated to.
    const sources = [...line.matchAll(/src=(\S+)/g)].map((match) => match[1]);
    if (sources[1] !== undefined) return sources[1];
  }
  return undefined;
}
