/**
 * The account's fixed values (permission names, provider numbers, name rules and lengths),
 * apart from its schema so the code that needs only these does not load TypeBox.
 */

export const PERMISSIONS = [
  '*',
  'list',
  'download',
  'upload',
  'overwrite',
  'delete',
  'rename',
  'create_dirs',
  'create_symlinks',
  'chmod',
  'chown',
  'chtimes',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const FsProvider = { local: 0, s3: 1 } as const;
export type FsProvider = (typeof FsProvider)[keyof typeof FsProvider];

/** Letters, digits, ".", "_", "@" and "-", but never "." or ".." (they would name a directory). */
export const USERNAME_PATTERN = '^(?!\\.\\.?$)[A-Za-z0-9._@-]+$';
export const MAX_USERNAME_LENGTH = 255;

/** A namespace (63) and an object name (253) with the slash between them fit. */
export const MAX_MANAGED_BY_LENGTH = 512;

export const MAX_ADMIN_DESCRIPTION = 1024;
