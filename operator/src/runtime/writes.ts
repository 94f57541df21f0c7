/**
 * The two ways the operator writes an object it manages: apply a child only when the API
 * server does not already hold what it would apply, and write a status only when it differs
 * from the one there. Both skip the request entirely otherwise, so a reconcile that finds
 * everything in place makes no write at all.
 */
import type { KubeObject } from '../api/objects.js';
import type { KubeClient } from '../kube/client.js';
import type { ResourceType } from '../kube/resources.js';
import { containsDesired, sameJson } from './compare.js';

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

export interface ApplyChild {
  type: ResourceType;
  desired: KubeObject;
  /** What the cache (or a read) holds now; undefined when there is none. */
  observed: KubeObject | undefined;
}

export async function applyIfChanged(
  client: KubeClient,
  child: ApplyChild,
): Promise<{ outcome: ApplyOutcome; object: KubeObject }> {
  if (child.observed !== undefined && containsDesired(child.observed, child.desired)) {
    return { outcome: 'unchanged', object: child.observed };
  }
  const object = await client.apply(child.type, child.desired);
  return { outcome: child.observed === undefined ? 'created' : 'updated', object };
}

/**
 * Writes `status` through the status subresource unless it equals the current one; resolves
 * with the object as stored after the write, or undefined when there was nothing to write.
 */
export async function writeStatusIfChanged<S, O extends KubeObject & { status?: S }>(
  client: KubeClient,
  options: { type: ResourceType; object: O; status: S },
): Promise<O | undefined> {
  if (sameJson(options.object.status ?? {}, options.status)) return undefined;
  const { name, namespace } = options.object.metadata;
  return client.apply<O>(
    options.type,
    {
      metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
      status: options.status,
    } as O,
    { subresource: 'status' },
  );
}
