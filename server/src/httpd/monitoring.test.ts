import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataProvider } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import {
  ADMIN,
  basicHeader,
  newProvider,
  startTestServer,
  type TestServer,
} from './test-support.js';
import { createMetricsRegistry } from './metrics.js';
import type { ActiveConnections, ConnectionInfo } from './types.js';

function counterValue(exposition: string, labels: string): number {
  const line = exposition.split('\n').find((l) => l.startsWith(`http_requests_total{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** A provider whose `method` fails with `error`, as during a database outage or a driver bug. */
function failing(provider: DataProvider, method: keyof DataProvider, error: Error): DataProvider {
  return new Proxy(provider, {
    get(target, property, receiver): unknown {
      if (property === method) return () => Promise.reject(error);
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function'
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

class RecordingConnections implements ActiveConnections {
  readonly closed: string[] = [];
  constructor(readonly live: ConnectionInfo[]) {}
  list(): ConnectionInfo[] {
    return this.live;
  }
  close(id: string): boolean {
    if (!this.live.some((c) => c.connection_id === id)) return false;
    this.closed.push(id);
    return true;
  }
}

describe('health, metrics, connections and request logs', () => {
  let server: TestServer;
  let authorization: string;
  const registry = createMetricsRegistry();
  const connection: ConnectionInfo = {
    connection_id: 'c0ffee',
    username: 'alice',
    client_version: 'SSH-2.0-OpenSSH_9.2',
    remote_address: '127.0.0.1:50000',
    connection_time: 1_700_000_000_000,
    last_activity: 1_700_000_001_000,
    protocol: 'SFTP',
    active_transfers: [
      { operation_type: 'upload', path: '/in/a.bin', start_time: 1_700_000_000_500, size: 42 },
    ],
  };
  const connections = new RecordingConnections([connection]);

  before(async () => {
    server = await startTestServer({ metricsRegistry: registry, connections });
    authorization = await server.bearer();
  });
  after(async () => {
    await server.close();
  });

  it('reports healthy while the provider answers, 503 when it does not', async () => {
    const ok = await server.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(ok.statusCode, 200);
    const provider = await newProvider();
    const down = await startTestServer({
      provider: failing(
        provider,
        'checkAvailability',
        new KubesftpError(ErrorCode.PROVIDER_UNAVAILABLE, 'connection refused'),
      ),
    });
    try {
      const reply = await down.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(reply.statusCode, 503);
      assert.equal(reply.json().code, 'PROVIDER_UNAVAILABLE');
      const metrics = await down.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(
        metrics.body,
        /^process_resident_memory_bytes /m,
        'a server without a registry gets one',
      );
    } finally {
      await down.close();
      await provider.close();
    }
  });

  it('counts requests by status code in /metrics, next to the process metrics', async () => {
    const before = (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
    const unauthorized = counterValue(before, 'code="401",method="GET"');
    for (let i = 0; i < 3; i += 1) await server.app.inject({ method: 'GET', url: '/api/v1/user' });
    const reply = await server.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(reply.statusCode, 200);
    assert.match(String(reply.headers['content-type']), /^text\/plain/);
    assert.equal(counterValue(reply.body, 'code="401",method="GET"'), unauthorized + 3);
    assert.ok(counterValue(reply.body, 'code="200",method="GET"') >= 1);
    assert.match(reply.body, /^process_cpu_user_seconds_total /m);
    assert.match(reply.body, /^# TYPE http_requests_total counter$/m);
  });

  it('lists and closes active connections', async () => {
    const listed = await server.app.inject({
      method: 'GET',
      url: '/api/v1/connection',
      headers: { authorization },
    });
    assert.equal(listed.statusCode, 200);
    assert.deepEqual(listed.json(), [connection]);
    const closed = await server.app.inject({
      method: 'DELETE',
      url: '/api/v1/connection/c0ffee',
      headers: { authorization },
    });
    assert.equal(closed.statusCode, 200);
    assert.deepEqual(connections.closed, ['c0ffee']);
    const missing = await server.app.inject({
      method: 'DELETE',
      url: '/api/v1/connection/nope',
      headers: { authorization },
    });
    assert.equal(missing.statusCode, 404);
  });

  it('logs one http line per request with the spec fields and no credentials', async () => {
    const secretPassword = 'never-log-this-password';
    server.logs.length = 0;
    const reply = await server.app.inject({
      method: 'POST',
      url: '/api/v1/user?trace=1',
      headers: { authorization, 'user-agent': 'httpd-test/1.0' },
      payload: {
        username: 'logged',
        password: secretPassword,
        home_dir: '/srv/logged',
        permissions: { '/': ['*'] },
      },
    });
    assert.equal(reply.statusCode, 201, reply.body);
    await server.app.inject({
      method: 'GET',
      url: '/api/v1/token',
      headers: { authorization: basicHeader(ADMIN.username, ADMIN.password) },
    });
    const lines = server.logs.filter((l) => l.sender === 'httpd');
    assert.equal(lines.length, 2);
    const [line] = lines;
    assert.equal(line?.method, 'POST');
    assert.equal(line?.uri, '/api/v1/user?trace=1');
    assert.equal(line?.resp_status, 201);
    assert.equal(line?.resp_size, Buffer.byteLength(reply.body));
    assert.equal(line?.user_agent, 'httpd-test/1.0');
    assert.equal(line?.proto, 'HTTP/1.1');
    assert.equal(line?.request_id, reply.headers['x-request-id']);
    assert.equal(typeof line?.elapsed_ms, 'number');
    assert.equal(typeof line?.remote_addr, 'string');
    const everything = JSON.stringify(server.logs);
    for (const secret of [
      secretPassword,
      ADMIN.password,
      authorization.slice(7),
      'authorization',
    ]) {
      assert.ok(!everything.includes(secret), `log must not contain ${secret}`);
    }
  });

  it('answers 500 without detail when the provider fails unexpectedly, and logs the detail', async () => {
    const provider = await newProvider();
    const broken = await startTestServer({
      provider: failing(provider, 'listUsers', new Error('driver exploded at /var/lib/db')),
    });
    try {
      const reply = await broken.app.inject({
        method: 'GET',
        url: '/api/v1/user',
        headers: { authorization: await broken.bearer() },
      });
      assert.equal(reply.statusCode, 500);
      assert.deepEqual(reply.json(), { error: 'internal server error', code: 'FAILURE' });
      const logged = broken.logs.find((l) => l.msg === 'request failed');
      assert.match(JSON.stringify(logged), /driver exploded/);
      assert.equal(logged?.request_id, reply.headers['x-request-id']);
    } finally {
      await broken.close();
      await provider.close();
    }
  });

  it('answers an unknown route with a coded 404 and never a stack trace on failure', async () => {
    const reply = await server.app.inject({ method: 'GET', url: '/nowhere' });
    assert.equal(reply.statusCode, 404);
    assert.equal(reply.json().code, 'NOT_FOUND');
    const broken = await server.app.inject({
      method: 'POST',
      url: '/api/v1/user',
      headers: { authorization, 'content-type': 'application/json' },
      payload: '{"username": ',
    });
    assert.equal(broken.statusCode, 400);
    assert.doesNotMatch(broken.body, /at \w+ \(/);
  });
});
