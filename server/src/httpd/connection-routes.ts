import type { FastifyPluginCallback } from 'fastify';
import { ErrorCode, KubesftpError } from '../errors.js';
import { errorResponses, messageSchema, securedRoute } from './route-schemas.js';
import type { ActiveConnections } from './types.js';

export interface ConnectionRoutesOptions {
  connections?: ActiveConnections;
}

export const connectionInfoSchema = {
  $id: 'ConnectionInfo',
  type: 'object',
  properties: {
    connection_id: { type: 'string' },
    username: { type: 'string' },
    client_version: { type: 'string' },
    remote_address: { type: 'string' },
    connection_time: { type: 'integer', description: 'Unix time in milliseconds.' },
    last_activity: { type: 'integer', description: 'Unix time in milliseconds.' },
    protocol: { type: 'string', enum: ['SFTP', 'SCP', 'SSH'] },
    active_transfers: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          operation_type: { type: 'string', enum: ['upload', 'download'] },
          path: { type: 'string' },
          start_time: { type: 'integer' },
          size: { type: 'integer' },
        },
      },
    },
  },
} as const;

/** REST resource /connection: the live SSH connections of this pod, and closing one. */
export const connectionRoutes: FastifyPluginCallback<ConnectionRoutesOptions> = (
  app,
  options,
  done,
) => {
  const { connections } = options;

  app.get('/connection', {
    schema: securedRoute({
      summary: 'List the active connections served by this instance',
      tags: ['connections'],
      response: { 200: { type: 'array', items: { $ref: 'ConnectionInfo#' } }, ...errorResponses },
    }),
    handler: () => connections?.list() ?? [],
  });

  app.delete<{ Params: { id: string } }>('/connection/:id', {
    schema: securedRoute({
      summary: 'Close an active connection',
      tags: ['connections'],
      params: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string', minLength: 1 } },
      },
      response: { 200: messageSchema, ...errorResponses },
    }),
    handler: async (request) => {
      if ((await connections?.close(request.params.id)) !== true) {
        throw new KubesftpError(ErrorCode.NOT_FOUND, `connection ${request.params.id} not found`);
      }
      return { message: 'connection closed' };
    },
  });
  done();
};
