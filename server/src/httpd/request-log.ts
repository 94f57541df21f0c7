import type { FastifyInstance } from 'fastify';
import { httpLogRecord } from '../logger/http.js';

/** Logs every finished request once; fastify's own request logging is off. */
export function installRequestLog(app: FastifyInstance): void {
  // The id is echoed so a client can quote it when reporting a failed request.
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // The component logger (it carries `sender: httpd`): request.log would bind request_id twice.
  app.addHook('onResponse', async (request, reply) => {
    app.log.info(httpLogRecord(request, reply), 'request served');
  });
}
