/** Builds the http log record of a finished request, from fastify or from the plain listener. */
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HttpLog } from './records.js';

function remoteAddr(raw: IncomingMessage): string {
  const { remoteAddress = '', remotePort } = raw.socket;
  const host = remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress;
  return remotePort === undefined ? host : `${host}:${remotePort}`;
}

function sizeOf(contentLength: unknown): number {
  const length = Number(contentLength);
  return Number.isFinite(length) ? length : 0;
}

/** What the response side of a record needs, whoever answered. */
export interface ServedResponse {
  statusCode: number;
  contentLength: unknown;
  elapsedMs: number;
  requestId: string;
}

export function rawHttpLogRecord(raw: IncomingMessage, served: ServedResponse): HttpLog {
  return {
    remote_addr: remoteAddr(raw),
    proto: `HTTP/${raw.httpVersion}`,
    method: raw.method ?? '',
    user_agent: raw.headers['user-agent'] ?? '',
    uri: raw.url ?? '',
    resp_status: served.statusCode,
    resp_size: sizeOf(served.contentLength),
    elapsed_ms: Math.round(served.elapsedMs),
    request_id: served.requestId,
  };
}

/** For fastify's onResponse hook. */
export function httpLogRecord(request: FastifyRequest, reply: FastifyReply): HttpLog {
  return {
    ...rawHttpLogRecord(request.raw, {
      statusCode: reply.statusCode,
      contentLength: reply.getHeader('content-length'),
      elapsedMs: reply.elapsedTime,
      requestId: String(request.id),
    }),
    method: request.method,
    uri: request.url,
  };
}
