/** Builds the http log record for a finished fastify request (use in an onResponse hook). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HttpLog } from './records.js';

function remoteAddr(request: FastifyRequest): string {
  const { remoteAddress = '', remotePort } = request.raw.socket;
  const host = remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress;
  return remotePort === undefined ? host : `${host}:${remotePort}`;
}

function responseSize(reply: FastifyReply): number {
  const length = Number(reply.getHeader('content-length'));
  return Number.isFinite(length) ? length : 0;
}

export function httpLogRecord(request: FastifyRequest, reply: FastifyReply): HttpLog {
  return {
    remote_addr: remoteAddr(request),
    proto: `HTTP/${request.raw.httpVersion}`,
    method: request.method,
    user_agent: request.headers['user-agent'] ?? '',
    uri: request.url,
    resp_status: reply.statusCode,
    resp_size: responseSize(reply),
    elapsed_ms: Math.round(reply.elapsedTime),
    request_id: String(request.id),
  };
}
