/**
 * Smoke tests of kubesftp on a real node: the image built offline runs under containerd and
 * runc, passes its readiness probe, rolls with its config, is reached through Services, serves
 * a real `sftp` client, and drains a running download when its pod is deleted.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildKubesftpImage,
  readPinnedVersions,
  startKubernetes,
  type KubernetesEnv,
  type KubernetesNode,
} from '../env/testbed.js';
import { sftpBatch, sha256File, type ClientAuth } from '../integration/harness.js';
import {
  adminSecret,
  configChecksum,
  configMap,
  dataDir,
  serverDeployment,
  serverPod,
  service,
} from './node-manifests.js';
import { sshIdent } from './ssh-ident.js';
import { waitFor } from './wait.js';

const adminPassword = randomBytes(12).toString('hex');
const app = { app: 'kubesftp' };
/** sftpd.shutdown_grace_period, and the pod's grace, which must be longer. */
const drainSeconds = 20;
const podGraceSeconds = 30;
const settings = (banner: string): Record<string, string> => ({
  KUBESFTP_SFTPD__BANNER: banner,
  KUBESFTP_SFTPD__SHUTDOWN_GRACE_PERIOD: String(drainSeconds),
});

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  status: { podIP?: string; phase?: string; conditions?: { type: string; status: string }[] };
}
interface ServiceJson {
  spec: { clusterIP: string; ports: { name: string; port: number; nodePort?: number }[] };
}

async function httpStatus(url: string): Promise<number> {
  return (await fetch(url, { signal: AbortSignal.timeout(5_000) })).status;
}

async function adminToken(base: string): Promise<string> {
  const basic = Buffer.from(`admin:${adminPassword}`).toString('base64');
  const res = await fetch(`${base}/api/v1/token`, { headers: { authorization: `Basic ${basic}` } });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { access_token: string }).access_token;
}

void describe('kubesftp on a real node', { timeout: 900_000 }, () => {
  let env: KubernetesEnv;
  let node: KubernetesNode;
  let image: string;
  let work: string;

  const getJson = async <T>(...what: string[]): Promise<T> =>
    JSON.parse(await env.kubectl(['get', ...what, '-o', 'json'])) as T;
  const apply = (yaml: string): Promise<string> =>
    env.kubectl(['apply', '-f', '-'], { input: yaml });
  /** What the cluster says about a pod that did not get ready: the reason, not just a timeout. */
  const diagnose = async (selector: string[]): Promise<string> => {
    const described = await env.kubectl(['describe', 'pods', ...selector]).catch(String);
    const logs = await env.kubectl(['logs', '--tail=20', ...selector]).catch(String);
    return `${described}\n--- logs ---\n${logs}`;
  };
  const waitPodReady = async (name: string): Promise<PodJson> => {
    try {
      await env.kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '--timeout=90s'], {
        timeoutMs: 100_000,
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await diagnose([name])}`, { cause: err });
    }
    return getJson<PodJson>(`pod/${name}`);
  };
  const rollOut = async (name: string): Promise<void> => {
    try {
      await env.kubectl(['rollout', 'status', `deployment/${name}`, '--timeout=120s'], {
        timeoutMs: 130_000,
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await diagnose(['-l', 'app=kubesftp'])}`, {
        cause: err,
      });
    }
  };
  /** The Deployment's pods that are not on their way out. */
  const livePods = async (): Promise<PodJson[]> =>
    (await getJson<{ items: PodJson[] }>('pods', '-l', 'app=kubesftp')).items.filter(
      (pod) => pod.metadata.deletionTimestamp === undefined,
    );
  const waitForPodGone = (name: string, timeoutMs: number): Promise<true> =>
    waitFor(
      `pod ${name} to end`,
      async () => {
        const exists = await getJson<PodJson>(`pod/${name}`).then(
          () => true,
          () => false,
        );
        return exists ? undefined : true;
      },
      timeoutMs,
    );
  const nodePort = async (serviceName: string, portName: string): Promise<number> => {
    const svc = await getJson<ServiceJson>(`service/${serviceName}`);
    const port = svc.spec.ports.find((entry) => entry.name === portName)?.nodePort;
    assert.ok(port, `service ${serviceName} has no nodePort for ${portName}`);
    return port;
  };

  before(async () => {
    env = await startKubernetes({ node: true });
    // Inside the bed's dir: gone with it, even when this process is killed.
    work = await mkdtemp(join(env.tempDir, 'test-'));
    assert.ok(env.node, 'startKubernetes({ node: true }) returned no node');
    node = env.node;
    const built = await buildKubesftpImage();
    await node.importImage(built.tarball);
    image = built.name;
    await apply(adminSecret(adminPassword));
  });

  after(async () => {
    await env?.stop();
  });

  void it('registers a Ready node running the pinned Kubernetes', { timeout: 30_000 }, async () => {
    const nodeJson = await getJson<{
      status: {
        nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string };
        conditions: { type: string; status: string }[];
        addresses: { type: string; address: string }[];
      };
    }>(`node/${node.name}`);
    const { nodeInfo, conditions, addresses } = nodeJson.status;
    assert.equal(nodeInfo.kubeletVersion, readPinnedVersions()['KUBE_VERSION']);
    assert.equal(
      nodeInfo.containerRuntimeVersion,
      `containerd://${readPinnedVersions()['CONTAINERD_VERSION']!.slice(1)}`,
    );
    assert.equal(conditions.find((condition) => condition.type === 'Ready')?.status, 'True');
    assert.deepEqual(
      addresses.find((address) => address.type === 'InternalIP')?.address,
      node.address,
    );
  });

  void it(
    'runs a kubesftp Pod that its /healthz probe makes Ready; logs and exec work through the API',
    { timeout: 150_000 },
    async () => {
      const name = 'kubesftp-single';
      await apply(
        serverPod(name, {
          image,
          labels: { app: name },
          terminationGracePeriodSeconds: podGraceSeconds,
        }),
      );
      const pod = await waitPodReady(name);
      const podIP = pod.status.podIP!;
      assert.ok(podIP.startsWith(node.podCidr.split('.').slice(0, 3).join('.')), podIP);
      assert.equal(await httpStatus(`http://${podIP}:8080/healthz`), 200);
      const logs = await env.kubectl(['logs', name]);
      assert.match(logs, /sftp server listening/);
      // The native modules were built on this machine and must load inside the image.
      const loaded = await env.kubectl(
        [
          ['exec', name, '--', '/usr/local/bin/node', '-e'],
          [
            "const r = require('module').createRequire('/app/package.json');",
            "new (r('better-sqlite3'))(':memory:'); r('argon2');",
            "r('ssh2/lib/protocol/crypto/build/Release/sshcrypto.node');",
            "console.log('native modules load as', process.getuid());",
          ].join(' '),
        ].flat(),
      );
      assert.equal(loaded.trim(), 'native modules load as 65532');
      await env.kubectl(['delete', 'pod', name, '--wait=true', '--timeout=60s'], {
        timeoutMs: 70_000,
      });
    },
  );

  void it('rolls a Deployment from one config to the next', { timeout: 300_000 }, async () => {
    const first = settings('kubesftp_smoke_one');
    await apply(configMap('kubesftp-config', first));
    const deployment = (config: Record<string, string>): string =>
      serverDeployment('kubesftp', {
        image,
        labels: app,
        configMapName: 'kubesftp-config',
        configChecksum: configChecksum(config),
        terminationGracePeriodSeconds: podGraceSeconds,
      });
    await apply(deployment(first));
    await apply(service('kubesftp', { type: 'ClusterIP', selector: app }));
    await apply(service('kubesftp-nodeport', { type: 'NodePort', selector: app }));
    await rollOut('kubesftp');
    const [before] = await livePods();
    assert.match(await sshIdent(before!.status.podIP!, 2022), /^SSH-2\.0-kubesftp_smoke_one/);

    const second = settings('kubesftp_smoke_two');
    await apply(configMap('kubesftp-config', second));
    await apply(deployment(second));
    await rollOut('kubesftp');
    // The roll is over when the old pod has drained and ended, not merely been told to.
    await waitForPodGone(before!.metadata.name, podGraceSeconds * 1000);
    const pods = await livePods();
    assert.equal(pods.length, 1, pods.map((pod) => pod.metadata.name).join(', '));
    const after = pods[0]!;
    assert.notEqual(after.metadata.name, before!.metadata.name);
    assert.match(await sshIdent(after.status.podIP!, 2022), /^SSH-2\.0-kubesftp_smoke_two/);
  });

  void it(
    'reaches the pod through a ClusterIP and a NodePort Service',
    { timeout: 60_000 },
    async () => {
      const clusterIP = (await getJson<ServiceJson>('service/kubesftp')).spec.clusterIP;
      assert.ok(clusterIP.startsWith(node.serviceCidr.split('.').slice(0, 3).join('.')), clusterIP);
      await waitFor('/healthz through the ClusterIP', async () =>
        (await httpStatus(`http://${clusterIP}:8080/healthz`)) === 200 ? true : undefined,
      );
      assert.match(await sshIdent(clusterIP, 22), /^SSH-2\.0-kubesftp_smoke_two/);
      const httpNodePort = await nodePort('kubesftp-nodeport', 'http');
      await waitFor('/healthz through the NodePort', async () =>
        (await httpStatus(`http://${node.address}:${httpNodePort}/healthz`)) === 200
          ? true
          : undefined,
      );
      const sftpNodePort = await nodePort('kubesftp-nodeport', 'sftp');
      assert.match(await sshIdent(node.address, sftpNodePort), /^SSH-2\.0-kubesftp_smoke_two/);
    },
  );

  const auth: ClientAuth = { username: 'alice', password: randomBytes(9).toString('hex') };

  void it(
    'logs OpenSSH sftp in through the NodePort as a user made through the REST API',
    { timeout: 120_000 },
    async () => {
      const [pod] = await livePods();
      const api = `http://${pod!.status.podIP!}:8080`;
      const res = await fetch(`${api}/api/v1/user`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await adminToken(api)}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          username: auth.username,
          password: auth.password,
          home_dir: `${dataDir}/homes/${auth.username}`,
          permissions: { '/': ['*'] },
          status: 1,
        }),
      });
      assert.equal(res.status, 201, await res.text());
      const data = randomBytes(4 * 1024 * 1024);
      await writeFile(join(work, 'up.bin'), data);
      const port = await nodePort('kubesftp-nodeport', 'sftp');
      const result = await sftpBatch(port, auth, ['put up.bin', 'ls -l', 'get up.bin back.bin'], {
        cwd: work,
        host: node.address,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /up\.bin/);
      assert.equal(await sha256File(join(work, 'back.bin')), sha256(data));
    },
  );

  void it(
    'lets a download finish when its pod is deleted, within the grace period',
    { timeout: 180_000 },
    async () => {
      const [pod] = await livePods();
      const port = await nodePort('kubesftp-nodeport', 'sftp');
      const data = randomBytes(16 * 1024 * 1024);
      await writeFile(join(work, 'big.bin'), data);
      const upload = await sftpBatch(port, auth, ['put big.bin'], {
        cwd: work,
        host: node.address,
      });
      assert.equal(upload.code, 0, upload.stderr);
      // 16 Mbit/s makes the download last about eight seconds.
      const started = Date.now();
      const download = sftpBatch(port, auth, ['get big.bin big-back.bin'], {
        cwd: work,
        host: node.address,
        extraArgs: ['-l', '16000'],
      });
      // Followed through the API until the container ends: what the server did on SIGTERM.
      const serverLog = env.kubectl(['logs', '--follow', pod!.metadata.name], {
        timeoutMs: (podGraceSeconds + 20) * 1000,
      });
      await sleep(2_000);
      await env.kubectl(['delete', 'pod', pod!.metadata.name, '--wait=false']);
      const deletedAt = Date.now();
      const done = await download;
      const finishedAt = Date.now();
      assert.equal(done.code, 0, `the download was cut off: ${done.stderr}`);
      assert.equal(await sha256File(join(work, 'big-back.bin')), sha256(data));
      assert.ok(
        finishedAt > deletedAt + 1_000,
        'the download was still running when the pod got SIGTERM',
      );
      assert.ok(
        finishedAt - started < drainSeconds * 1000,
        'the download finished within the grace period',
      );
      // The pod then ends by itself, before the kubelet's grace runs out, and a new one serves.
      await waitForPodGone(pod!.metadata.name, (podGraceSeconds + 10) * 1000);
      const drained = (await serverLog)
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { message?: string; connections?: number });
      const shutdown = drained.find((line) => line.message?.startsWith('shutting down'));
      assert.equal(shutdown?.connections, 1, 'SIGTERM came while the download was running');
      assert.ok(
        drained.some((line) => line.message === 'stopped'),
        'the server ended by itself',
      );
      await rollOut('kubesftp');
    },
  );
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
