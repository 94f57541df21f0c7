import type { FastifyPluginCallback } from 'fastify';
import type { DataProvider } from '../dataprovider/types.js';
import { ErrorCode } from '../errors.js';
import type { DocumentedSchema } from './route-schemas.js';

/** The cross-process state of the server (session/cluster.ts): settlements, notifications. */
export interface ClusterHealthSource {
  health(): { status: 'ok' | 'degraded'; reasons: string[] };
}

export interface HealthRoutesOptions {
  provider: DataProvider;
  cluster?: ClusterHealthSource;
}

const DEGRADED = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['degraded'] },
    error: { type: 'string' },
    code: { type: 'string' },
    reasons: { type: 'array', items: { type: 'string' } },
  },
} as const;

/**
 * GET /healthz: 200 `ok` while the data provider answers and nothing waits for it; 503
 * `degraded` otherwise (the provider is unreachable, quota settlements are queued, change
 * notifications are down), with the reasons. The process goes on serving running sessions
 * meanwhile: use it as a readiness probe, not as a liveness probe.
 */
export const healthRoutes: FastifyPluginCallback<HealthRoutesOptions> = (
  app,
  { provider, cluster },
  done,
) => {
  const schema: DocumentedSchema = {
    summary: 'Health: 200 ok while the data provider answers, 503 degraded otherwise',
    tags: ['monitoring'],
    response: {
      200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } },
      503: DEGRADED,
    },
  };
  app.get('/healthz', {
    schema,
    handler: async (request, reply) => {
      const reasons = cluster?.health().reasons ?? [];
      try {
        await provider.checkAvailability();
      } catch (err) {
        request.log.warn({ sender: 'httpd', err }, 'data provider unavailable');
        return reply.code(503).send({
          status: 'degraded',
          error: 'data provider unavailable',
          code: ErrorCode.PROVIDER_UNAVAILABLE,
          reasons: ['data provider unavailable', ...reasons],
        });
      }
      if (reasons.length === 0) return { status: 'ok' };
      return reply.code(503).send({
        status: 'degraded',
        error: reasons[0],
        code: ErrorCode.PROVIDER_UNAVAILABLE,
        reasons,
      });
    },
  });
  done();
};
