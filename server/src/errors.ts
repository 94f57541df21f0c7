/**
 * Core errors carry a code; each protocol (sftp/, httpd/, commands/) maps codes to its wire
 * form. Never match on message text. Codes are never reused for another meaning.
 */
export const ErrorCode = {
  NO_SUCH_FILE: 'NO_SUCH_FILE',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  FILE_EXISTS: 'FILE_EXISTS',
  NOT_A_DIRECTORY: 'NOT_A_DIRECTORY',
  IS_A_DIRECTORY: 'IS_A_DIRECTORY',
  DIR_NOT_EMPTY: 'DIR_NOT_EMPTY',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  UNSUPPORTED: 'UNSUPPORTED',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** A client path that would leave the user's root (through `..`, an absolute path or a symlink). */
  PATH_ESCAPE: 'PATH_ESCAPE',
  FAILURE: 'FAILURE',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  /** An account may not take a home whose data is still being removed; try again once it is. */
  HOME_BEING_REMOVED: 'HOME_BEING_REMOVED',
  PROVIDER_UNAVAILABLE: 'PROVIDER_UNAVAILABLE',
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** Refused because too many requests were made recently or are already in progress. */
  RATE_LIMITED: 'RATE_LIMITED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class KubesftpError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubesftpError';
    this.code = code;
  }
}

export function isKubesftpError(err: unknown, code?: ErrorCode): err is KubesftpError {
  return err instanceof KubesftpError && (code === undefined || err.code === code);
}

const errnoCodes: Record<string, ErrorCode> = {
  ENOENT: ErrorCode.NO_SUCH_FILE,
  ELOOP: ErrorCode.NO_SUCH_FILE,
  EACCES: ErrorCode.PERMISSION_DENIED,
  EPERM: ErrorCode.PERMISSION_DENIED,
  EROFS: ErrorCode.PERMISSION_DENIED,
  EEXIST: ErrorCode.FILE_EXISTS,
  ENOTDIR: ErrorCode.NOT_A_DIRECTORY,
  EISDIR: ErrorCode.IS_A_DIRECTORY,
  ENOTEMPTY: ErrorCode.DIR_NOT_EMPTY,
  EDQUOT: ErrorCode.QUOTA_EXCEEDED,
  ENOSPC: ErrorCode.QUOTA_EXCEEDED,
  ENOSYS: ErrorCode.UNSUPPORTED,
  ENOTSUP: ErrorCode.UNSUPPORTED,
  EOPNOTSUPP: ErrorCode.UNSUPPORTED,
  EXDEV: ErrorCode.UNSUPPORTED,
  EINVAL: ErrorCode.INVALID_ARGUMENT,
  ENAMETOOLONG: ErrorCode.INVALID_ARGUMENT,
};

/** Converts any thrown value into a KubesftpError, mapping Node's errno codes in one place. */
export function toKubesftpError(err: unknown): KubesftpError {
  if (err instanceof KubesftpError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const code = (errno !== undefined && errnoCodes[errno]) || ErrorCode.FAILURE;
  const message = err instanceof Error ? err.message : String(err);
  return new KubesftpError(code, message, { cause: err });
}
