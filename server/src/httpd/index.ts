export { buildApp, API_PREFIX } from './server.js';
export { createHttpServer } from './listener.js';
export { AdminAuthenticator, TOKEN_SECRET_NAME, DEFAULT_ADMIN_TOKEN_TTL } from './admin-auth.js';
export type { AccessToken } from './admin-auth.js';
export { ensureAdmin, type EnsureAdminOptions } from './first-admin.js';
export { httpStatusFor } from './http-errors.js';
export { buildOpenApiDocument } from './openapi-document.js';
export type {
  ActiveConnections,
  ActiveTransferInfo,
  ConnectionInfo,
  HttpdConfig,
  HttpServer,
  HttpServerDeps,
} from './types.js';
