/**
 * The account finalizer, added and removed with JSON patches whose test operations make the
 * write fail (and the reconcile retry) if the list changed since it was read: another
 * controller's finalizer is never dropped by a stale write.
 */
import { ACCOUNT_FINALIZER } from '../api/group.js';
import type { KubeObject } from '../api/objects.js';
import type { JsonPatchOperation, KubeClient } from '../kube/client.js';
import type { ResourceType } from '../kube/resources.js';

export function hasFinalizer(object: KubeObject): boolean {
  return object.metadata.finalizers?.includes(ACCOUNT_FINALIZER) === true;
}

/** The patch adding the finalizer to `object` as it was read. */
export function addFinalizerPatch(object: KubeObject): JsonPatchOperation[] {
  const current = object.metadata.finalizers;
  if (current === undefined || current.length === 0) {
    // No list to test: the resourceVersion stands for the whole object as it was read.
    return [
      { op: 'test', path: '/metadata/resourceVersion', value: object.metadata.resourceVersion },
      { op: 'add', path: '/metadata/finalizers', value: [ACCOUNT_FINALIZER] },
    ];
  }
  return [
    { op: 'test', path: '/metadata/finalizers', value: current },
    { op: 'add', path: '/metadata/finalizers/-', value: ACCOUNT_FINALIZER },
  ];
}

/** The patch removing the finalizer, testing that it is still where it was read. */
export function removeFinalizerPatch(object: KubeObject): JsonPatchOperation[] {
  const index = object.metadata.finalizers?.indexOf(ACCOUNT_FINALIZER) ?? -1;
  if (index < 0) return [];
  return [
    { op: 'test', path: `/metadata/finalizers/${index}`, value: ACCOUNT_FINALIZER },
    { op: 'remove', path: `/metadata/finalizers/${index}` },
  ];
}

/** Resolves with the patched object, or undefined when there was nothing to patch. */
async function patch<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  object: T,
  operations: JsonPatchOperation[],
): Promise<T | undefined> {
  if (operations.length === 0) return undefined;
  return client.jsonPatch<T>(
    type,
    { namespace: object.metadata.namespace, name: object.metadata.name },
    operations,
  );
}

/** Resolves with the object as patched, or undefined when it already had the finalizer. */
export async function addFinalizer<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  object: T,
): Promise<T | undefined> {
  return hasFinalizer(object) ? undefined : patch(client, type, object, addFinalizerPatch(object));
}

export async function removeFinalizer(
  client: KubeClient,
  type: ResourceType,
  object: KubeObject,
): Promise<void> {
  await patch(client, type, object, removeFinalizerPatch(object));
}
