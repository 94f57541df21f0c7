import type { FastifyPluginCallback } from 'fastify';
import type { DataProvider } from '../dataprovider/types.js';
import { ErrorCode } from '../errors.js';
import type { DocumentedSchema } from './route-schemas.js';

export interface HealthRoutesOptions {
  provider: DataProvider;
}

/** GET /healthz: ready while the data provider answers, so a probe takes a pod out when it does not. */
export const healthRoutes: FastifyPluginCallback<HealthRoutesOptions> = (
  app,
  { provider },
  done,
) => {
  const schema: DocumentedSchema = {
    summary: 'Health: 200 while the data provider is reachable, 503 otherwise',
    tags: ['monitoring'],
    response: {
      200: { type: 'object', properties: { status: { type: 'string' } } },
      503: { $ref: 'ErrorBody#' },
    },
  };
  app.get('/healthz', {
    schema,
    handler: async (request, reply) => {
      try {
        await provider.checkAvailability();
        return { status: 'ok' };
      } catch (err) {
        request.log.warn({ sender: 'httpd', err }, 'data provider unavailable');
        return reply
          .code(503)
          .send({ error: 'data provider unavailable', code: ErrorCode.PROVIDER_UNAVAILABLE });
      }
    },
  });
  done();
};
