/** Shared set-up for the httpd tests: a memory provider, an admin, a server and its logs. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createDataProvider } from '../dataprovider/index.js';
import type { DataProvider } from '../dataprovider/types.js';
import { ensureAdmin } from './first-admin.js';
import { buildApp } from './server.js';
import type { FastifyInstance } from 'fastify';
import type { HttpServerDeps } from './types.js';

export const ADMIN = { username: 'root-admin', password: 'correct horse battery staple' };

export interface TestServer {
  app: FastifyInstance;
  provider: DataProvider;
  /** Every JSON log line the server wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Authorization header value carrying a fresh admin token. */
  bearer(): Promise<string>;
  close(): Promise<void>;
}

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export function captureLogger(): {
  logger: HttpServerDeps['logger'];
  logs: Record<string, unknown>[];
} {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback): void {
      logs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      callback();
    },
  });
  // As in production: the httpd component logger carries `sender: httpd`.
  return { logger: pino({ level: 'info' }, sink).child({ sender: 'httpd' }), logs };
}

export async function newProvider(): Promise<DataProvider> {
  const provider = await createDataProvider({
    driver: 'memory',
    name: 'httpd-test',
    configDir: '.',
  });
  await provider.initialize();
  return provider;
}

export async function startTestServer(
  overrides: Partial<HttpServerDeps> = {},
): Promise<TestServer> {
  const provider = overrides.provider ?? (await newProvider());
  await ensureAdmin(provider, ADMIN);
  const { logger, logs } = captureLogger();
  const app = await buildApp({
    provider,
    logger,
    config: { bind_port: 0, bind_address: '127.0.0.1' },
    version: '9.9.9-test',
    ...overrides,
  });
  const bearer = async (): Promise<string> => {
    const reply = await app.inject({
      method: 'GET',
      url: '/api/v1/token',
      headers: { authorization: basicHeader(ADMIN.username, ADMIN.password) },
    });
    if (reply.statusCode !== 200)
      throw new Error(`token request failed: ${reply.statusCode} ${reply.body}`);
    return `Bearer ${reply.json<{ access_token: string }>().access_token}`;
  };
  const close = async (): Promise<void> => {
    await app.close();
    if (overrides.provider === undefined) await provider.close();
  };
  return { app, provider, logs, bearer, close };
}
