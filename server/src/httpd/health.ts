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

export type HealthBody =
  { status: 'ok' } | { status: 'degraded'; error: string; code: ErrorCode; reasons: string[] };

export interface HealthReport {
  statusCode: 200 | 503;
  body: HealthBody;
  /** Why the provider did not answer, for the log; never in the body. */
  providerError?: unknown;
}

/**
 * 200 `ok` while the data provider answers and nothing waits for it; 503 `degraded`
 * otherwise (the provider is unreachable, quota settlements are queued, change notifications
 * are down), with the reasons. Both the plain listener and the fastify route answer with it.
 */
export async function checkHealth(options: HealthRoutesOptions): Promise<HealthReport> {
  const reasons = options.cluster?.health().reasons ?? [];
  try {
    await options.provider.checkAvailability();
  } catch (err) {
    return {
      statusCode: 503,
      body: {
        status: 'degraded',
        error: 'data provider unavailable',
        code: ErrorCode.PROVIDER_UNAVAILABLE,
        reasons: ['data provider unavailable', ...reasons],
      },
      providerError: err,
    };
  }
  if (reasons.length === 0) return { statusCode: 200, body: { status: 'ok' } };
  return {
    statusCode: 503,
    body: {
      status: 'degraded',
      error: reasons[0] ?? 'degraded',
      code: ErrorCode.PROVIDER_UNAVAILABLE,
      reasons,
    },
  };
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
 * GET /healthz (see checkHealth). The process goes on serving running sessions meanwhile: use
 * it as a readiness probe, not as a liveness probe.
 */
export const healthRoutes: FastifyPluginCallback<HealthRoutesOptions> = (app, options, done) => {
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
      const report = await checkHealth(options);
      if (report.providerError !== undefined) {
        request.log.warn(
          { sender: 'httpd', err: report.providerError },
          'data provider unavailable',
        );
      }
      return reply.code(report.statusCode).send(report.body);
    },
  });
  done();
};
