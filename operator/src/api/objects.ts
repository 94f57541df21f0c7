/**
 * Kubernetes objects as the operator reads them: plain JSON as the API server sends it
 * (timestamps stay strings), with only the fields the operator looks at typed.
 */
import type { SftpServerSpec, SftpServerStatus } from './sftpserver.js';
import type { SftpUserSpec, SftpUserStatus } from './sftpuser.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

/** Any object: what informers and the client pass around. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface SftpServer extends KubeObject {
  spec: SftpServerSpec;
  status?: SftpServerStatus;
}

export interface SftpUser extends KubeObject {
  spec: SftpUserSpec;
  status?: SftpUserStatus;
}

export interface Secret extends KubeObject {
  type?: string;
  /** Base64 values, as the API sends them. */
  data?: Record<string, string>;
}

/** "namespace/name": the key of the work queues and of the caches. */
export type ObjectKey = string;

export function keyOf(object: { metadata: { name: string; namespace?: string } }): ObjectKey {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

export function splitKey(key: ObjectKey): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The decoded value of a Secret key, or undefined when the key is absent. */
export function secretValue(secret: Secret | undefined, key: string): string | undefined {
  const encoded = secret?.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
}
