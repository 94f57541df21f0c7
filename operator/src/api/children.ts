/**
 * What every object the operator creates carries: its labels, and an owner reference to the
 * resource it belongs to, so that the garbage collector removes it with its owner.
 */
import { API_VERSION, LABELS, MANAGED_BY } from './group.js';
import type { KubeObject, ObjectMeta, OwnerReference } from './objects.js';

export function ownerReference(owner: KubeObject, kind: string): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The labels that select the pods of a server. */
export function selectorLabels(server: string): Record<string, string> {
  return { [LABELS.name]: 'kubesftp', [LABELS.instance]: server };
}

export interface ChildMetaInput {
  owner: KubeObject;
  ownerKind: string;
  name: string;
  /** The server the object serves, for the instance label. */
  instance: string;
  component: string;
  /** Whether the owner reference is set (not on data that must outlive its owner). */
  owned?: boolean;
}

export function childMeta(input: ChildMetaInput): ObjectMeta {
  return {
    name: input.name,
    namespace: input.owner.metadata.namespace ?? 'default',
    labels: {
      ...selectorLabels(input.instance),
      [LABELS.component]: input.component,
      [LABELS.managedBy]: MANAGED_BY,
      [LABELS.partOf]: 'kubesftp',
    },
    ...(input.owned === false
      ? {}
      : { ownerReferences: [ownerReference(input.owner, input.ownerKind)] }),
  };
}

/** The owner this object names as its controller, if any. */
export function controllerOf(object: KubeObject): OwnerReference | undefined {
  return object.metadata.ownerReferences?.find((ref) => ref.controller === true);
}
