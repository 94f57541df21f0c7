/**
 * The `httpd` listener. Probes and Prometheus call /healthz and /metrics all day; those two are
 * answered here with node:http. fastify, the REST routes, their schemas and the OpenAPI
 * generator (about 30 MiB resident) are loaded by the first other request, which most pods
 * never get: users reach them through the operator and the shared data provider. From then
 * on every other request goes straight to that application, so auth, rate limits, errors and
 * the OpenAPI document are exactly the fastify ones.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, KubesftpError } from '../errors.js';
import { rawHttpLogRecord } from '../logger/http.js';
import { checkHealth } from './health.js';
import { createMetricsRegistry, httpRequestsCounter } from './metrics.js';
import type { HttpServer, HttpServerDeps } from './types.js';

/** fastify's default, which the API had while fastify owned the socket. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
const JSON_TYPE = 'application/json; charset=utf-8';

type Answer = { statusCode: number; contentType: string; body: string };

/** The answer to a monitoring request, or undefined when the REST application must answer. */
async function monitoringAnswer(
  request: IncomingMessage,
  deps: HttpServerDeps & { metricsRegistry: NonNullable<HttpServerDeps['metricsRegistry']> },
  requestId: string,
): Promise<Answer | undefined> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  const path = (request.url ?? '').split('?', 1)[0];
  if (path === '/metrics') {
    const registry = deps.metricsRegistry;
    const body = await (deps.metricsText ?? (() => registry.metrics()))();
    return { statusCode: 200, contentType: registry.contentType, body };
  }
  if (path !== '/healthz') return undefined;
  const report = await checkHealth({
    provider: deps.provider,
    ...(deps.cluster === undefined ? {} : { cluster: deps.cluster }),
  });
  if (report.providerError !== undefined) {
    deps.logger.warn(
      { err: report.providerError, request_id: requestId },
      'data provider unavailable',
    );
  }
  return {
    statusCode: report.statusCode,
    contentType: JSON_TYPE,
    body: JSON.stringify(report.body),
  };
}

/** The REST application, built once on first use; a failed build is retried by the next request. */
function lazyApp(deps: HttpServerDeps): {
  get(): Promise<FastifyInstance>;
  close(): Promise<void>;
} {
  let app: Promise<FastifyInstance> | undefined;
  return {
    get() {
      if (app !== undefined) return app;
      const building = import('./server.js').then(({ buildApp }) => buildApp(deps));
      building.catch(() => {
        if (app === building) app = undefined;
      });
      app = building;
      return building;
    },
    async close() {
      const built = await app?.catch(() => undefined);
      await built?.close();
    },
  };
}

/** The REST API, /healthz and /metrics on the `httpd` bind address and port. */
export function createHttpServer(deps: HttpServerDeps): HttpServer {
  const metricsRegistry = deps.metricsRegistry ?? createMetricsRegistry();
  const shared = { ...deps, metricsRegistry };
  const counter = httpRequestsCounter(metricsRegistry);
  const app = lazyApp(shared);

  const answerHere = (request: IncomingMessage, response: ServerResponse, answer: Answer): void => {
    const started = performance.now();
    const requestId = String(response.getHeader('x-request-id'));
    response.on('finish', () => {
      counter.inc({ code: String(response.statusCode), method: request.method ?? '' });
      deps.logger.info(
        rawHttpLogRecord(request, {
          statusCode: response.statusCode,
          contentLength: response.getHeader('content-length'),
          elapsedMs: performance.now() - started,
          requestId,
        }),
        'request served',
      );
    });
    response.writeHead(answer.statusCode, {
      'content-type': answer.contentType,
      'content-length': Buffer.byteLength(answer.body),
    });
    response.end(request.method === 'HEAD' ? undefined : answer.body);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const answer = await monitoringAnswer(request, shared, requestId);
    if (answer !== undefined) {
      response.setHeader('x-request-id', requestId);
      answerHere(request, response, answer);
      return;
    }
    (await app.get()).routing(request, response);
  };

  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (request, response) => {
    handle(request, response).catch((err: unknown) => {
      deps.logger.error({ err }, 'request failed');
      if (response.headersSent) {
        response.destroy();
        return;
      }
      response.writeHead(500, { 'content-type': JSON_TYPE });
      response.end(JSON.stringify({ error: 'internal server error', code: ErrorCode.FAILURE }));
    });
  });

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(deps.config.bind_port, deps.config.bind_address || '0.0.0.0', () => {
          server.off('error', reject);
          const bound = server.address();
          if (bound === null || typeof bound === 'string') {
            reject(new KubesftpError(ErrorCode.FAILURE, 'httpd is not bound to a TCP port'));
            return;
          }
          resolve({ address: bound.address, port: bound.port });
        });
      }),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.all([closed, app.close()]);
    },
  };
}
