import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import {
  adminInputSchema,
  adminSchema,
  changePasswordSchema,
  newAdminInputSchema,
} from './admin-schemas.js';
import { connectionInfoSchema } from './connection-routes.js';
import { errorBodySchema } from './http-errors.js';
import { newUserInputSchema, userInputSchema, userSchema } from './user-schemas.js';

/** The version of the REST API contract (not of the server build). */
export const API_VERSION = '1.0.0';

/**
 * Registers the shared schemas and the OpenAPI generator. It must run before any route is
 * added: the generator collects routes as they are declared.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  for (const schema of [
    errorBodySchema,
    userInputSchema,
    newUserInputSchema,
    userSchema,
    connectionInfoSchema,
    adminInputSchema,
    newAdminInputSchema,
    adminSchema,
    changePasswordSchema,
  ]) {
    app.addSchema(schema);
  }
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'kubesftp REST API',
        description: 'Manage SFTP users and administrators and watch active connections.',
        version: API_VERSION,
      },
      servers: [],
      components: {
        securitySchemes: {
          BasicAuth: { type: 'http', scheme: 'basic' },
          BearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        },
      },
    },
    refResolver: {
      // Component names are the schemas' own $id, so the document reads "#/components/schemas/User".
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  });
}
