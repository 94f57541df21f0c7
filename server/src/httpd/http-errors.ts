import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';

/**
 * A request whose credentials are missing or wrong. It carries the challenge for the
 * WWW-Authenticate header so the one error handler can answer 401.
 */
export class AuthenticationError extends KubesftpError {
  readonly challenge: string;

  constructor(message: string, challenge: string) {
    super(ErrorCode.PERMISSION_DENIED, message);
    this.name = 'AuthenticationError';
    this.challenge = challenge;
  }
}

/** Wrong credentials (not missing ones): what the defender scores. */
export class InvalidCredentialsError extends AuthenticationError {
  /** Whether the named account exists: a guessed name scores more than a guessed password. */
  readonly accountExists: boolean;

  constructor(options: { message: string; challenge: string; accountExists: boolean }) {
    super(options.message, options.challenge);
    this.name = 'InvalidCredentialsError';
    this.accountExists = options.accountExists;
  }
}

export interface ErrorBody {
  error: string;
  code: string;
}

const statusByCode: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.HOME_BEING_REMOVED]: 409,
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.PERMISSION_DENIED]: 403,
  [ErrorCode.PROVIDER_UNAVAILABLE]: 503,
  [ErrorCode.RATE_LIMITED]: 429,
};

/** The single place where core error codes become HTTP statuses. */
export function httpStatusFor(code: ErrorCode): number {
  return statusByCode[code] ?? 500;
}

interface MappedError {
  status: number;
  body: ErrorBody;
  challenge?: string;
}

function mapFrameworkError(err: FastifyError): MappedError | undefined {
  if (err.validation !== undefined) {
    return { status: 400, body: { error: err.message, code: ErrorCode.INVALID_ARGUMENT } };
  }
  // Fastify's own client errors (bad JSON, wrong content type, body too large) keep their status.
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { status, body: { error: err.message, code: ErrorCode.INVALID_ARGUMENT } };
  }
  return undefined;
}

/** Turns anything thrown by a route into a status and a `{error, code}` body; never a stack trace. */
export function mapError(err: unknown): MappedError {
  if (err instanceof AuthenticationError) {
    return { status: 401, body: { error: err.message, code: err.code }, challenge: err.challenge };
  }
  if (isKubesftpError(err)) {
    const status = httpStatusFor(err.code);
    const message = status === 500 ? 'internal server error' : err.message;
    return { status, body: { error: message, code: err.code } };
  }
  const framework = mapFrameworkError(err as FastifyError);
  return (
    framework ?? { status: 500, body: { error: 'internal server error', code: ErrorCode.FAILURE } }
  );
}

function handleError(
  this: FastifyInstance,
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const mapped = mapError(err);
  if (mapped.status >= 500) request.log.error({ sender: 'httpd', err }, 'request failed');
  if (mapped.challenge !== undefined) void reply.header('WWW-Authenticate', mapped.challenge);
  void reply.code(mapped.status).send(mapped.body);
}

/** Installs the error and not-found handlers on the root instance so every plugin shares them. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send({ error: `no route for ${request.method} ${request.url}`, code: ErrorCode.NOT_FOUND });
  });
}

/** JSON schema of every error reply, shared by the route schemas and the OpenAPI document. */
export const errorBodySchema = {
  $id: 'ErrorBody',
  type: 'object',
  properties: { error: { type: 'string' }, code: { type: 'string' } },
  required: ['error', 'code'],
} as const;
