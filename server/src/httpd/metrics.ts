import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DocumentedSchema } from './route-schemas.js';

const HTTP_REQUESTS = 'http_requests_total';

/** A registry with the process metrics (CPU, memory, file descriptors, event loop, GC). */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function httpRequestsCounter(registry: Registry): Counter<'code' | 'method'> {
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

/** What the cross-process session layer reports (session/cluster.ts). */
export interface ClusterMetricsSource {
  stats(): {
    sessions: number;
    pendingSettlements: number;
    droppedSettlements: number;
    revokedClosed: number;
    creditReservations: number;
  };
  health(): { status: 'ok' | 'degraded' };
}

/** Counters the SSH side increments. */
export interface ServerMetrics {
  loginFailures: Counter<'cause'>;
}

function counterOf(registry: Registry, name: string, help: string, read: () => number): void {
  if (registry.getSingleMetric(name) !== undefined) return;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function gaugeOf(registry: Registry, name: string, help: string, read: () => number): void {
  if (registry.getSingleMetric(name) !== undefined) return;
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/**
 * Login failures by cause (provider_unavailable among them), and the state of sessions,
 * quota settlements and change notification shared with the other processes.
 */
export function registerServerMetrics(
  registry: Registry,
  cluster: ClusterMetricsSource,
): ServerMetrics {
  const name = 'kubesftp_login_failures_total';
  const existing = registry.getSingleMetric(name);
  const loginFailures =
    existing instanceof Counter
      ? (existing as Counter<'cause'>)
      : new Counter({
          name,
          help: 'Refused SSH login attempts by cause; provider_unavailable counts logins refused while the data provider did not answer',
          labelNames: ['cause'],
          registers: [registry],
        });
  const stats = (): ReturnType<ClusterMetricsSource['stats']> => cluster.stats();
  gaugeOf(
    registry,
    'kubesftp_sessions',
    'Logged-in connections of this process',
    () => stats().sessions,
  );
  gaugeOf(
    registry,
    'kubesftp_quota_settlements_pending',
    'Quota settlements and session releases waiting for the data provider',
    () => stats().pendingSettlements,
  );
  counterOf(
    registry,
    'kubesftp_quota_settlements_dropped_total',
    'Quota settlements lost: the waiting queue was full or the provider refused them',
    () => stats().droppedSettlements,
  );
  counterOf(
    registry,
    'kubesftp_revoked_connections_closed_total',
    'Connections closed because their user was disabled or deleted',
    () => stats().revokedClosed,
  );
  counterOf(
    registry,
    'kubesftp_quota_credit_reservations_total',
    'Quota reservations made on credit while the data provider was unreachable',
    () => stats().creditReservations,
  );
  gaugeOf(
    registry,
    'kubesftp_degraded',
    '1 while the data provider, quota settlements or change notification are not healthy',
    () => (cluster.health().status === 'ok' ? 0 : 1),
  );
  return { loginFailures };
}
