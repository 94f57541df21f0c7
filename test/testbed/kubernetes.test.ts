import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  VersionApi,
  Watch,
  setHeaderOptions,
  type KubernetesObject,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { readPinnedVersions, startKubernetes, type KubernetesEnv } from '../env/testbed.js';

const group = 'testbed.kubesftp.io';
const version = 'v1';
const plural = 'widgets';
const namespace = 'default';
const celMessage = 'minReplicas must not exceed maxReplicas';

const widgetCrd: V1CustomResourceDefinition = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural, singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['minReplicas', 'maxReplicas'],
                properties: {
                  color: { type: 'string' },
                  minReplicas: { type: 'integer', minimum: 0 },
                  maxReplicas: { type: 'integer', minimum: 0 },
                },
                // The typed model names the x-kubernetes-validations extension x_kubernetes_validations.
                x_kubernetes_validations: [
                  { rule: 'self.minReplicas <= self.maxReplicas', message: celMessage },
                ],
              },
              status: { type: 'object', properties: { phase: { type: 'string' } } },
            },
          },
        },
      },
    ],
  },
};

interface Widget extends KubernetesObject {
  spec: { color?: string; minReplicas: number; maxReplicas: number };
  status?: { phase?: string };
}

const widget = (name: string, spec: Widget['spec']): Widget => ({
  apiVersion: `${group}/${version}`,
  kind: 'Widget',
  metadata: { name, namespace },
  spec,
});

async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

void describe('Kubernetes API server from the test bed', { timeout: 90_000 }, () => {
  let env: KubernetesEnv;
  let kc: KubeConfig;

  before(async () => {
    env = await startKubernetes();
    kc = new KubeConfig();
    kc.loadFromFile(env.kubeconfigPath);
  });

  after(async () => {
    await env?.stop();
  });

  void it('reports the pinned Kubernetes version', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    assert.equal(version.gitVersion, readPinnedVersions()['KUBE_VERSION']);
  });

  void it('establishes a CRD and serves its resources', async () => {
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    await extensions.createCustomResourceDefinition({ body: widgetCrd });
    const established = await waitFor('the CRD to be Established', async () => {
      const crd = await extensions.readCustomResourceDefinition({
        name: widgetCrd.metadata!.name!,
      });
      return crd.status?.conditions?.find((c) => c.type === 'Established' && c.status === 'True');
    });
    assert.equal(established.status, 'True');
    const objects = kc.makeApiClient(CustomObjectsApi);
    // Established can precede the handler being installed by a moment.
    await waitFor('the widgets resource to be served', () =>
      objects.listNamespacedCustomObject({ group, version, namespace, plural }),
    );
  });

  void it('creates, applies, updates status, watches and deletes a custom resource', async () => {
    const objects = kc.makeApiClient(CustomObjectsApi);
    const events: { type: string; name: string; color?: string }[] = [];
    const watching = await new Watch(kc).watch(
      `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
      {},
      (type, object: Widget) =>
        events.push({ type, name: object.metadata!.name!, color: object.spec.color }),
      () => undefined,
    );
    try {
      const created = (await objects.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        body: widget('alpha', { color: 'red', minReplicas: 1, maxReplicas: 3 }),
      })) as Widget;
      assert.ok(created.metadata?.uid);

      const applied = await kc
        .makeApiClient(KubernetesObjectApi)
        .patch(
          widget('alpha', { color: 'blue', minReplicas: 1, maxReplicas: 5 }),
          undefined,
          undefined,
          'kubesftp-smoke',
          true,
          PatchStrategy.ServerSideApply,
        );
      assert.deepEqual(applied.spec, { color: 'blue', minReplicas: 1, maxReplicas: 5 });
      const managers = applied.metadata?.managedFields?.map(
        (entry) => `${entry.manager}/${entry.operation}`,
      );
      assert.ok(
        managers?.includes('kubesftp-smoke/Apply'),
        `managed fields: ${managers?.join(', ')}`,
      );

      const withStatus = (await objects.patchNamespacedCustomObjectStatus(
        { group, version, namespace, plural, name: 'alpha', body: { status: { phase: 'Ready' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as Widget;
      assert.equal(withStatus.status?.phase, 'Ready');
      assert.equal(withStatus.spec.color, 'blue');

      await objects.deleteNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        name: 'alpha',
      });
      await waitFor('the DELETED watch event', () =>
        Promise.resolve(events.some((event) => event.type === 'DELETED') ? true : undefined),
      );
      const seen = events
        .filter((event) => event.name === 'alpha')
        .map((e) => `${e.type}:${e.color}`);
      assert.deepEqual(seen.slice(0, 2), ['ADDED:red', 'MODIFIED:blue']);
      assert.equal(seen.at(-1), 'DELETED:blue');
    } finally {
      watching.abort();
    }
  });

  void it('rejects an object that breaks the CEL rule', async () => {
    const objects = kc.makeApiClient(CustomObjectsApi);
    const bad = widget('broken', { minReplicas: 4, maxReplicas: 2 });
    await assert.rejects(
      objects.createNamespacedCustomObject({ group, version, namespace, plural, body: bad }),
      (err: unknown) => {
        assert.ok(err instanceof ApiException, `unexpected error: ${String(err)}`);
        assert.equal(err.code, 422);
        assert.match(String(err.body), new RegExp(celMessage));
        return true;
      },
    );
    const good = widget('fine', { minReplicas: 2, maxReplicas: 2 });
    const created = (await objects.createNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      body: good,
    })) as Widget;
    assert.equal(created.metadata?.name, 'fine');
  });
});
