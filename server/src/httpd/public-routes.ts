import rateLimit from '@fastify/rate-limit';
import type { FastifyContextConfig, FastifyPluginAsync } from 'fastify';
import { ErrorCode, KubesftpError } from '../errors.js';
import type { AdminAuthenticator } from './admin-auth.js';
import { InvalidCredentialsError } from './http-errors.js';
import { errorResponses, type DocumentedSchema } from './route-schemas.js';

/** The defender as the token exchange sees it: wrong admin credentials score the address. */
export interface TokenDefender {
  isBlocked(ip: string): boolean;
  isBanned(ip: string): Promise<boolean>;
  record(ip: string, event: 'invalid_user' | 'failed_login'): Promise<boolean>;
}

export interface PublicRoutesOptions {
  authenticator: AdminAuthenticator;
  version: string;
  /** Token requests per minute per client address; 0 means no limit. */
  tokenRateLimit: number;
  defender?: TokenDefender;
}

function bannedAddress(): KubesftpError {
  return new KubesftpError(ErrorCode.PERMISSION_DENIED, 'this address is not allowed to log in');
}

/**
 * Trades credentials for a token unless the address is blocked or banned; wrong credentials
 * score it as a failed SSH login would, so one ban holds for both.
 */
async function guardedToken(
  options: PublicRoutesOptions,
  request: { ip: string; headers: { authorization?: string } },
): ReturnType<AdminAuthenticator['issueToken']> {
  const { defender, authenticator } = options;
  if (defender !== undefined) {
    if (defender.isBlocked(request.ip) || (await defender.isBanned(request.ip))) {
      throw bannedAddress();
    }
  }
  try {
    return await authenticator.issueToken(request.headers.authorization);
  } catch (err) {
    if (defender !== undefined && err instanceof InvalidCredentialsError) {
      await defender.record(request.ip, err.accountExists ? 'failed_login' : 'invalid_user');
    }
    throw err;
  }
}

/** httpd.token_rate_limit's default, for servers built without the configuration. */
export const DEFAULT_TOKEN_RATE_LIMIT = 20;

/**
 * Each token request costs a password hash, so one address may only make a few a minute.
 * The check runs on request, before the credentials are even read.
 */
function tokenRateLimitConfig(perMinute: number): FastifyContextConfig {
  if (perMinute <= 0) return {};
  return { rateLimit: { max: perMinute, timeWindow: 60_000 } };
}

const accessTokenSchema = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    expires_at: { type: 'integer', description: 'Unix time in milliseconds.' },
  },
  required: ['access_token', 'expires_at'],
} as const;

/** The /api/v1 routes reachable without a token: the token exchange and the API description. */
export const publicRoutes: FastifyPluginAsync<PublicRoutesOptions> = async (app, options) => {
  const { version } = options;
  // Scoped to this plugin and, with global off, to the routes that ask for a limit.
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new KubesftpError(
        ErrorCode.RATE_LIMITED,
        `too many token requests from this address; retry in ${context.after}`,
      ),
  });

  const tokenSchema: DocumentedSchema = {
    summary: 'Exchange admin credentials (HTTP Basic) for an access token',
    tags: ['auth'],
    security: [{ BasicAuth: [] }],
    response: { 200: accessTokenSchema, ...errorResponses },
  };
  app.get('/token', {
    schema: tokenSchema,
    config: tokenRateLimitConfig(options.tokenRateLimit),
    handler: (request) => guardedToken(options, request),
  });

  const versionSchema: DocumentedSchema = {
    summary: 'Server version',
    tags: ['info'],
    response: {
      200: { type: 'object', properties: { version: { type: 'string' } }, required: ['version'] },
    },
  };
  app.get('/version', {
    schema: versionSchema,
    handler: () => ({ version }),
  });

  const openapiSchema: DocumentedSchema = { hide: true };
  app.get('/openapi.json', {
    schema: openapiSchema,
    handler: () => app.swagger(),
  });
};
