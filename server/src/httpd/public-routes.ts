import type { FastifyPluginCallback } from 'fastify';
import type { AdminAuthenticator } from './admin-auth.js';
import { errorResponses, type DocumentedSchema } from './route-schemas.js';

export interface PublicRoutesOptions {
  authenticator: AdminAuthenticator;
  version: string;
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
export const publicRoutes: FastifyPluginCallback<PublicRoutesOptions> = (app, options, done) => {
  const { authenticator, version } = options;

  const tokenSchema: DocumentedSchema = {
    summary: 'Exchange admin credentials (HTTP Basic) for an access token',
    tags: ['auth'],
    security: [{ BasicAuth: [] }],
    response: { 200: accessTokenSchema, ...errorResponses },
  };
  app.get('/token', {
    schema: tokenSchema,
    handler: (request) => authenticator.issueToken(request.headers.authorization),
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
  done();
};
