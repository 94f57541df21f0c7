import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { AdminAuthenticator, DEFAULT_ADMIN_TOKEN_TTL } from './admin-auth.js';
import { adminRoutes } from './admin-routes.js';
import { connectionRoutes } from './connection-routes.js';
import { defenderRoutes } from './defender-routes.js';
import { healthRoutes } from './health.js';
import { installErrorHandlers } from './http-errors.js';
import { createMetricsRegistry, installRequestCounter, metricsRoutes } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { DEFAULT_TOKEN_RATE_LIMIT, publicRoutes } from './public-routes.js';
import { installRequestLog } from './request-log.js';
import type { HttpServerDeps } from './types.js';
import { userRoutes } from './user-routes.js';

export const API_PREFIX = '/api/v1';

/** Every /api/v1 route but the public ones sits behind this plugin's token check. */
async function registerAdminApi(
  app: FastifyInstance,
  deps: HttpServerDeps,
  authenticator: AdminAuthenticator,
): Promise<void> {
  await app.register(
    async (adminApi) => {
      adminApi.decorateRequest('adminUsername', '');
      adminApi.addHook('onRequest', async (request) => {
        request.adminUsername = await authenticator.verifyToken(request.headers.authorization);
      });
      await adminApi.register(adminRoutes, { provider: deps.provider });
      await adminApi.register(userRoutes, {
        provider: deps.provider,
        usersBaseDir: deps.config.users_base_dir,
        ...(deps.config.manage_users === undefined
          ? {}
          : { manageUsers: deps.config.manage_users }),
      });
      await adminApi.register(connectionRoutes, { connections: deps.connections });
      await adminApi.register(defenderRoutes, { defender: deps.defender });
    },
    { prefix: API_PREFIX },
  );
}

/** Builds the fastify application with every plugin registered and ready; nothing listens yet. */
export async function buildApp(deps: HttpServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Our onResponse hook writes the one http log line per request.
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'request_id',
    }),
    genReqId: () => randomUUID(),
    bodyLimit: 1024 * 1024,
  });
  const registry = deps.metricsRegistry ?? createMetricsRegistry();
  const authenticator = new AdminAuthenticator({
    provider: deps.provider,
    tokenTtl: deps.config.admin_token_ttl ?? DEFAULT_ADMIN_TOKEN_TTL,
  });
  installErrorHandlers(app);
  installRequestLog(app);
  installRequestCounter(app, registry);
  await registerOpenApi(app);
  await app.register(publicRoutes, {
    prefix: API_PREFIX,
    authenticator,
    version: deps.version,
    tokenRateLimit: deps.config.token_rate_limit ?? DEFAULT_TOKEN_RATE_LIMIT,
    defender: deps.defender,
  });
  await registerAdminApi(app, deps, authenticator);
  await app.register(healthRoutes, {
    provider: deps.provider,
    ...(deps.cluster === undefined ? {} : { cluster: deps.cluster }),
  });
  await app.register(metricsRoutes, { registry, text: deps.metricsText });
  await app.ready();
  return app;
}
