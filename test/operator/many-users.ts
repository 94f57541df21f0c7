/**
 * What the operator tests and benchmark at scale share: the CRDs and a namespace with a database
 * Secret, a small SftpServer, many SftpUsers with generated passwords written a few at a time,
 * and the server's Deployment reported ready as the kubelet and the deployment controller
 * would (the bed runs neither without a node).
 */
import { join } from 'node:path';
import type { SftpUser } from '../../operator/src/api/objects.js';
import { Resources } from '../../operator/src/kube/resources.js';
import type { KubernetesEnv } from '../env/testbed.js';
import { repoRoot } from '../integration/harness.js';
import { waitFor } from '../testbed/wait.js';

export const SERVER = 'files';

export function serverYaml(namespace: string): string {
  return `apiVersion: kubesftp.io/v1alpha1
kind: SftpServer
metadata: {name: ${SERVER}, namespace: ${namespace}}
spec:
  replicas: 1
  database: {secretRef: {name: files-db}}
  storage: {persistentVolumeClaim: {size: 1Gi}}
`;
}

export function userObject(namespace: string, name: string): SftpUser {
  return {
    apiVersion: Resources.sftpUser.apiVersion,
    kind: Resources.sftpUser.kind,
    metadata: { name, namespace },
    spec: {
      serverRef: { name: SERVER },
      password: { generate: true },
      permissions: { '/': ['*'] },
    },
  };
}

export const isReady = (object: {
  status?: { conditions?: Array<{ type: string; status: string }> };
}): boolean =>
  object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** The CRDs established, and `namespace` with the Secret `files-db` naming `databaseUrl`. */
export async function prepareNamespace(
  kube: KubernetesEnv,
  namespace: string,
  databaseUrl: string,
): Promise<void> {
  await kube.kubectl(['apply', '-f', join(repoRoot, 'crds')], { timeoutMs: 60_000 });
  await kube.kubectl(['wait', '--for', 'condition=Established', 'crd', '--all']);
  await kube.kubectl(['create', 'namespace', namespace]);
  const dbSecret = ['create', 'secret', 'generic', 'files-db', '-n', namespace];
  await kube.kubectl([...dbSecret, `--from-literal=uri=${databaseUrl}`]);
}

/** Reports the server's pod ready in its Deployment's status, then waits for the SftpServer Ready. */
export async function reportServerReady(
  kube: KubernetesEnv,
  namespace: string,
  generation: number,
): Promise<void> {
  const status = {
    observedGeneration: generation,
    replicas: 1,
    updatedReplicas: 1,
    readyReplicas: 1,
    availableReplicas: 1,
  };
  const patch = ['patch', 'deployment', SERVER, '-n', namespace, '--subresource=status'];
  await kube.kubectl([...patch, '--type=merge', '-p', JSON.stringify({ status })]);
  await waitFor('the SftpServer Ready', async () => {
    const server = JSON.parse(
      await kube.kubectl(['get', 'sftpserver', SERVER, '-n', namespace, '-o', 'json']),
    ) as SftpUser;
    return isReady(server) ? true : undefined;
  });
}

/** Calls `write` for every name, `concurrency` at a time. */
export async function forEachUser(
  names: string[],
  concurrency: number,
  write: (name: string) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) await write(names[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** The Deployment's generation, once the operator has made it. */
export async function deploymentGeneration(
  kube: KubernetesEnv,
  namespace: string,
): Promise<number> {
  const deployment = await waitFor(
    'the Deployment',
    async () =>
      JSON.parse(
        await kube.kubectl(['get', 'deployment', SERVER, '-n', namespace, '-o', 'json']),
      ) as { metadata: { generation?: number } },
  );
  return deployment.metadata.generation ?? 1;
}
