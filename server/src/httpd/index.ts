export { createHttpServer, buildApp, API_PREFIX } from './server.js';
export {
  ensureAdmin,
  AdminAuthenticator,
  TOKEN_SECRET_NAME,
  DEFAULT_ADMIN_TOKEN_TTL,
} from './admin-auth.js';
export type { AccessToken, EnsureAdminOptions } from './admin-auth.js';
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
