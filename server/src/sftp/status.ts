import { ErrorCode, toKubesftpError, type KubesftpError } from '../errors.js';
import { StatusCode } from './constants.js';

const STATUS_BY_ERROR: Readonly<Record<ErrorCode, StatusCode>> = {
  [ErrorCode.NO_SUCH_FILE]: StatusCode.NO_SUCH_FILE,
  [ErrorCode.NOT_FOUND]: StatusCode.NO_SUCH_FILE,
  // OpenSSH maps ENOTDIR to "no such file": a path through a file names nothing.
  [ErrorCode.NOT_A_DIRECTORY]: StatusCode.NO_SUCH_FILE,
  [ErrorCode.PERMISSION_DENIED]: StatusCode.PERMISSION_DENIED,
  [ErrorCode.PATH_ESCAPE]: StatusCode.PERMISSION_DENIED,
  [ErrorCode.UNSUPPORTED]: StatusCode.OP_UNSUPPORTED,
  [ErrorCode.INVALID_ARGUMENT]: StatusCode.BAD_MESSAGE,
  // v3 has no codes for these; clients show the generic failure.
  [ErrorCode.FILE_EXISTS]: StatusCode.FAILURE,
  [ErrorCode.IS_A_DIRECTORY]: StatusCode.FAILURE,
  [ErrorCode.DIR_NOT_EMPTY]: StatusCode.FAILURE,
  [ErrorCode.QUOTA_EXCEEDED]: StatusCode.FAILURE,
  [ErrorCode.FAILURE]: StatusCode.FAILURE,
  [ErrorCode.CONFLICT]: StatusCode.FAILURE,
  [ErrorCode.HOME_BEING_REMOVED]: StatusCode.FAILURE,
  [ErrorCode.PROVIDER_UNAVAILABLE]: StatusCode.FAILURE,
  [ErrorCode.CONFIG_INVALID]: StatusCode.FAILURE,
  [ErrorCode.RATE_LIMITED]: StatusCode.FAILURE,
};

export interface MappedStatus {
  code: StatusCode;
  error: KubesftpError;
}

/** The one place where core errors become SSH_FX_* codes. */
export function toStatus(err: unknown): MappedStatus {
  const error = toKubesftpError(err);
  return { code: STATUS_BY_ERROR[error.code] ?? StatusCode.FAILURE, error };
}
