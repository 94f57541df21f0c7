import { isIP } from 'node:net';
import type { FastifyPluginCallback } from 'fastify';
import type { HostStatus } from '../defender/index.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { errorResponses, messageSchema, securedRoute } from './route-schemas.js';

/** The defender as the admin API sees it. */
export interface DefenderAdmin {
  hosts(): Promise<HostStatus[]>;
  /** Resolves false when the address was not tracked. */
  unban(ip: string): Promise<boolean>;
}

export interface DefenderRoutesOptions {
  defender?: DefenderAdmin;
}

const defenderHostSchema = {
  type: 'object',
  properties: {
    ip: { type: 'string' },
    score: { type: 'integer', description: 'Score within the observation window.' },
    banned_until: {
      type: 'integer',
      description: 'Unix time in milliseconds the ban ends; 0 when the address is not banned.',
    },
  },
  required: ['ip', 'score', 'banned_until'],
} as const;

/** REST resource /defender/hosts: the addresses the defender scores or bans, and unbanning. */
export const defenderRoutes: FastifyPluginCallback<DefenderRoutesOptions> = (
  app,
  options,
  done,
) => {
  const { defender } = options;

  app.get('/defender/hosts', {
    schema: securedRoute({
      summary: 'List the client addresses with a score or a ban, most recently active first',
      tags: ['defender'],
      response: { 200: { type: 'array', items: defenderHostSchema }, ...errorResponses },
    }),
    handler: async () =>
      (await defender?.hosts())?.map((h) => ({
        ip: h.ip,
        score: h.score,
        banned_until: h.bannedUntil,
      })) ?? [],
  });

  app.delete<{ Params: { ip: string } }>('/defender/hosts/:ip', {
    schema: securedRoute({
      summary: 'Forget a client address: lift its ban and clear its score',
      tags: ['defender'],
      params: {
        type: 'object',
        required: ['ip'],
        properties: { ip: { type: 'string', minLength: 1 } },
      },
      response: { 200: messageSchema, ...errorResponses },
    }),
    handler: async (request) => {
      const { ip } = request.params;
      if (isIP(ip) === 0) {
        throw new KubesftpError(
          ErrorCode.INVALID_ARGUMENT,
          `${JSON.stringify(ip)} is not an IP address`,
        );
      }
      if ((await defender?.unban(ip)) !== true) {
        throw new KubesftpError(ErrorCode.NOT_FOUND, `address ${ip} is not tracked`);
      }
      return { message: 'address unbanned' };
    },
  });
  done();
};
