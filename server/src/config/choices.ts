/**
 * The fixed value lists the config schema is built from, apart from the schema so the code
 * that only needs a list does not load TypeBox with it.
 */

/** Marks a key that is accepted but whose feature is not enforced yet; startup warns when set. */
export const NOT_ENFORCED = 'x-not-enforced';

export const SFTP_ACTIONS = ['download', 'upload', 'delete', 'rename', 'ssh_cmd'] as const;
export const USER_ACTIONS = ['add', 'update', 'delete'] as const;
export const SSH_COMMANDS = [
  '*',
  'scp',
  'md5sum',
  'sha1sum',
  'sha256sum',
  'sha384sum',
  'sha512sum',
  'cd',
  'pwd',
  'git-receive-pack',
  'git-upload-pack',
  'git-upload-archive',
  'rsync',
] as const;
export const HOST_KEY_TYPES = ['ed25519', 'rsa', 'ecdsa'] as const;
/** `bolt`, SFTPGo's embedded key/value store, names our kv driver (an LMDB file). */
export const PROVIDER_DRIVERS = ['sqlite', 'memory', 'postgresql', 'mysql', 'kv', 'bolt'] as const;
export type ProviderDriver = (typeof PROVIDER_DRIVERS)[number];
