/**
 * Names the operator and its resources share: the API group, the kinds, the labels and
 * annotations it writes, its finalizer and its field manager. Each is spelled here only.
 */
export const GROUP = 'kubesftp.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const SFTP_SERVER = { kind: 'SftpServer', plural: 'sftpservers', singular: 'sftpserver' };
export const SFTP_USER = { kind: 'SftpUser', plural: 'sftpusers', singular: 'sftpuser' };

/** The one field manager of every server-side apply the operator makes. */
export const FIELD_MANAGER = 'kubesftp-operator';
/** The component named in Events. */
export const EVENT_SOURCE = 'kubesftp-operator';

/** Held by an SftpUser until its account is removed from the database. */
export const ACCOUNT_FINALIZER = `${GROUP}/account`;

export const LABELS = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  partOf: 'app.kubernetes.io/part-of',
} as const;

/** The value of app.kubernetes.io/managed-by on what the operator creates; informers select on it. */
export const MANAGED_BY = 'kubesftp-operator';

export const ANNOTATIONS = {
  /** On the pod template: changes whenever the config or a credential the pods read does. */
  configChecksum: `${GROUP}/config-checksum`,
  /**
   * On a generated credentials Secret: the SHA-256 of the password the operator generated, so
   * that a password edited in by hand is told apart (it is hashed at the full cost).
   */
  generatedPassword: `${GROUP}/generated-password-sha256`,
} as const;
