/**
 * The operator's supervised informer on the real API server, reached through a TCP proxy that
 * this test can cut: while the API server is unreachable (open connections reset, new ones
 * refused, as during an API server restart) the informer's list and watch fail; client-node's
 * ListWatch would stop for good there, and the supervisor must start it again with backoff and
 * relist, so that a change made during the outage still reaches the handlers.
 */
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { startKubernetes, type KubernetesEnv } from '../env/testbed.js';
import { KubeClient } from '../../operator/src/kube/client.js';
import { SupervisedInformer } from '../../operator/src/kube/informer.js';
import { Resources } from '../../operator/src/kube/resources.js';
import type { KubeObject } from '../../operator/src/api/objects.js';

const NAMESPACE = 'informer-outage';

/** A TCP proxy to the API server that can be cut (resets and refusals) and restored on the same port. */
class CuttableProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  constructor(readonly target: { host: string; port: number }) {}

  async listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    await new Promise<void>((resolve) =>
      server === undefined ? resolve() : server.close(() => resolve()),
    );
  }
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

void describe(
  'the supervised informer when the API server goes away and comes back',
  { timeout: 120_000 },
  () => {
    let kube: KubernetesEnv;
    let proxy: CuttableProxy;
    let informer: SupervisedInformer<KubeObject> | undefined;
    let client: KubeClient | undefined;

    before(async () => {
      kube = await startKubernetes();
      await kube.kubectl(['create', 'namespace', NAMESPACE]);
      const url = new URL(kube.server);
      proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port) });
      await proxy.listen();
    });

    after(async () => {
      await informer?.stop();
      client?.close();
      await proxy?.cut();
      await kube?.stop();
    });

    void it('restarts with backoff, relists, and delivers what changed during the outage', async () => {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromOptions({
        clusters: [
          { name: 'bed', server: `https://127.0.0.1:${proxy.port}`, caFile: kube.caCertPath },
        ],
        users: [{ name: 'admin', token: kube.token }],
        contexts: [{ name: 'bed', cluster: 'bed', user: 'admin' }],
        currentContext: 'bed',
      });
      client = new KubeClient({ kubeConfig, fieldManager: 'informer-test', timeoutMs: 5_000 });
      const restarts: string[] = [];
      informer = new SupervisedInformer<KubeObject>({
        name: 'configmaps',
        kubeConfig,
        client,
        type: Resources.configMap,
        namespace: NAMESPACE,
        logger: pino({ level: 'silent' }),
        backoff: { baseMs: 200, maxMs: 2_000 },
        watchTimeoutSeconds: 30,
        observer: { restarted: (name) => restarts.push(name), active: () => undefined },
      });
      const seen = new Set<string>();
      informer.onEvent((type, object) => {
        if (type !== 'delete') seen.add(object.metadata.name);
      });
      await informer.start();
      await kube.kubectl(['create', 'configmap', 'before', '-n', NAMESPACE]);
      await waitFor('the ConfigMap made before the outage', () => seen.has('before'), 10_000);

      await proxy.cut();
      await sleep(3_000);
      await kube.kubectl(['create', 'configmap', 'during', '-n', NAMESPACE]);
      await sleep(2_000);
      assert.ok(!seen.has('during'), 'nothing can arrive while the API server is unreachable');
      assert.ok(informer.health().failures > 0, 'the informer saw the failure');
      await proxy.listen();

      await waitFor('the ConfigMap made during the outage', () => seen.has('during'), 30_000);
      await kube.kubectl(['create', 'configmap', 'after', '-n', NAMESPACE]);
      await waitFor('the ConfigMap made after the outage', () => seen.has('after'), 15_000);
      assert.ok(restarts.length > 0, 'the supervisor started the informer again');
      assert.equal(informer.health().failures, 0, 'a good start clears the failure count');
      assert.deepEqual(
        informer
          .list(NAMESPACE)
          .map((object) => object.metadata.name)
          .filter((name) => name !== 'kube-root-ca.crt')
          .sort(),
        ['after', 'before', 'during'],
      );
    });
  },
);
