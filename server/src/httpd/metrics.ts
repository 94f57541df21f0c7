import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics, type Aggregator } from 'prom-client';
import type { SessionEvents } from '../session/types.js';
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
  /** The text to answer instead of the registry's own (a primary merging its workers'). */
  text?: () => Promise<string>;
}

/** GET /metrics in the Prometheus text format. */
export const metricsRoutes: FastifyPluginCallback<MetricsRoutesOptions> = (
  app,
  { registry, text },
  done,
) => {
  const schema: DocumentedSchema = { summary: 'Prometheus metrics', tags: ['monitoring'] };
  app.get('/metrics', {
    schema,
    handler: async (_request, reply) => {
      const body = await (text ?? (() => registry.metrics()))();
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

interface GaugeMeta {
  name: string;
  help: string;
  /** How a primary merges the workers' readings (decision 0014); summed when absent. */
  aggregator?: Aggregator;
}

function gaugeOf(registry: Registry, meta: GaugeMeta, read: () => number): void {
  if (registry.getSingleMetric(meta.name) !== undefined) return;
  new Gauge({
    ...meta,
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
    { name: 'kubesftp_sessions', help: 'Logged-in connections of this process' },
    () => stats().sessions,
  );
  gaugeOf(
    registry,
    {
      name: 'kubesftp_quota_settlements_pending',
      help: 'Quota settlements and session releases waiting for the data provider',
    },
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
    {
      name: 'kubesftp_degraded',
      help: '1 while the data provider, quota settlements or change notification are not healthy',
      // Merged over a primary's workers: degraded when any process is.
      aggregator: 'max',
    },
    () => (cluster.health().status === 'ok' ? 0 : 1),
  );
  return { loginFailures };
}

type TransferLabels = 'direction' | 'protocol';

function transferCounter(registry: Registry, name: string, help: string): Counter<TransferLabels> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames: ['direction', 'protocol'], registers: [registry] });
}

/**
 * The session events with every finished transfer counted (whatever its outcome): how many,
 * and the bytes moved, by direction (upload, download) and protocol (SFTP, SCP).
 */
export function countTransfers(registry: Registry, base: SessionEvents): SessionEvents {
  const transfers = transferCounter(
    registry,
    'kubesftp_transfers_total',
    'Finished uploads and downloads, completed or not, by direction and protocol',
  );
  const bytes = transferCounter(
    registry,
    'kubesftp_transfer_bytes_total',
    'Bytes moved by finished uploads and downloads, by direction and protocol',
  );
  return {
    ...base,
    transfer(record) {
      base.transfer(record);
      const labels = { direction: record.sender.toLowerCase(), protocol: record.protocol };
      transfers.inc(labels);
      bytes.inc(labels, record.size_bytes);
    },
  };
}
