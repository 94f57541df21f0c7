/**
 * Failures of API requests, with the HTTP status and the Status reason the API server gave.
 * Callers branch on these fields (isNotFound, isConflict), never on message text.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status; 0 when no response came (connection refused, timeout). */
  readonly status: number;
  /** metav1.Status reason, e.g. NotFound, AlreadyExists, Conflict, Invalid. */
  readonly reason: string | undefined;

  constructor(options: { message: string; status: number; reason?: string; cause?: unknown }) {
    super(options.message, { cause: options.cause });
    this.status = options.status;
    this.reason = options.reason;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

export function isNotFound(err: unknown): boolean {
  return isApiError(err) && err.status === 404;
}

/** A write lost a race (stale resourceVersion, a failed JSON patch test): read again and retry. */
export function isConflict(err: unknown): boolean {
  return isApiError(err) && err.status === 409;
}

export function isAlreadyExists(err: unknown): boolean {
  return isApiError(err) && err.status === 409 && err.reason === 'AlreadyExists';
}

/** Wraps any error with what was being done, keeping it as the cause. */
export function withContext(what: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  const wrapped = new Error(`${what}: ${message}`, { cause: err });
  return wrapped;
}
