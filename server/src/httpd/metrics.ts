import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { DocumentedSchema } from './route-schemas.js';

const HTTP_REQUESTS = 'http_requests_total';

/** A registry with the process metrics (CPU, memory, file descriptors, event loop, GC). */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

function httpRequestsCounter(registry: Registry): Counter<'code' | 'method'> {
  // Several servers may share a registry (tests, restarts); register the counter once.
  const existing = registry.getSingleMetric(HTTP_REQUESTS);
  if (existing instanceof Counter) return existing;
  return new Counter({
    name: HTTP_REQUESTS,
    help: 'HTTP requests served, by response code and method',
    labelNames: ['code', 'method'],
    registers: [registry],
  });
}

/** Counts every request on the root instance, so routes of every plugin are seen. */
export function installRequestCounter(app: FastifyInstance, registry: Registry): void {
  const counter = httpRequestsCounter(registry);
  app.addHook('onResponse', async (request, reply) => {
    counter.inc({ code: String(reply.statusCode), method: request.method });
  });
}

export interface MetricsRoutesOptions {
  registry: Registry;
}

/** GET /metrics in the Prometheus text format. */
export const metricsRoutes: FastifyPluginCallback<MetricsRoutesOptions> = (
  app,
  { registry },
  done,
) => {
  const schema: DocumentedSchema = { summary: 'Prometheus metrics', tags: ['monitoring'] };
  app.get('/metrics', {
    schema,
    handler: async (_request, reply) => {
      const body = await registry.metrics();
      return reply.type(registry.contentType).send(body);
    },
  });
  done();
};
