import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureAdmin } from './first-admin.js';
import { createHttpServer } from './listener.js';
import { ADMIN, captureLogger, newProvider } from './test-support.js';
import type { DataProvider } from '../dataprovider/types.js';
import type { HttpServer } from './types.js';

describe('createHttpServer on a real socket', () => {
  let provider: DataProvider;
  let server: HttpServer;
  let base: string;
  let logs: Record<string, unknown>[];

  before(async () => {
    provider = await newProvider();
    await ensureAdmin(provider, ADMIN);
    const captured = captureLogger();
    logs = captured.logs;
    server = createHttpServer({
      provider,
      logger: captured.logger,
      config: { bind_port: 0, bind_address: '127.0.0.1', admin_token_ttl: 60 },
      version: '1.2.3',
    });
    const bound = await server.listen();
    assert.equal(bound.address, '127.0.0.1');
    assert.ok(bound.port > 0);
    base = `http://127.0.0.1:${bound.port}`;
  });
  after(async () => {
    await server.close();
    await provider.close();
  });

  it('serves health, a token and the user API over HTTP', async () => {
    const signal = AbortSignal.timeout(10_000);
    assert.equal((await fetch(`${base}/healthz`, { signal })).status, 200);
    assert.equal((await fetch(`${base}/api/v1/user`, { signal })).status, 401);

    const credentials = Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64');
    const tokenReply = await fetch(`${base}/api/v1/token`, {
      headers: { authorization: `Basic ${credentials}` },
      signal,
    });
    assert.equal(tokenReply.status, 200);
    const token = (await tokenReply.json()) as { access_token: string; expires_at: number };
    assert.ok(token.expires_at <= Date.now() + 61_000, 'admin_token_ttl is honoured');
    const headers = {
      authorization: `Bearer ${token.access_token}`,
      'content-type': 'application/json',
    };

    const created = await fetch(`${base}/api/v1/user`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        username: 'wire',
        password: 'wire-pass-1',
        home_dir: '/srv/wire',
        permissions: { '/': ['*'] },
      }),
      signal,
    });
    assert.equal(created.status, 201);
    const user = (await created.json()) as { id: number; username: string };
    const listed = await fetch(`${base}/api/v1/user?username=wire`, { headers, signal });
    const text = await listed.text();
    assert.equal(listed.status, 200);
    assert.deepEqual(
      (JSON.parse(text) as { id: number }[]).map((u) => u.id),
      [user.id],
    );
    assert.doesNotMatch(text, /password/);
  });

  it('answers /healthz and /metrics itself: logged, counted and with a request id', async () => {
    const signal = AbortSignal.timeout(10_000);
    const health = await fetch(`${base}/healthz?probe=1`, {
      headers: { 'user-agent': 'probe/1.0' },
      signal,
    });
    assert.equal(health.status, 200);
    assert.match(String(health.headers.get('content-type')), /^application\/json/);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const requestId = health.headers.get('x-request-id');
    assert.ok(requestId !== null && requestId !== '');
    const head = await fetch(`${base}/healthz`, { method: 'HEAD', signal });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');

    const metrics = await fetch(`${base}/metrics`, { signal });
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(text, /^process_resident_memory_bytes /m);
    const served = /^http_requests_total\{code="200",method="GET"\} (\d+)$/m.exec(text);
    assert.ok(served !== null && Number(served[1]) >= 1, 'the probe was counted');

    const line = logs.find((l) => l.request_id === requestId);
    assert.equal(line?.uri, '/healthz?probe=1');
    assert.equal(line?.method, 'GET');
    assert.equal(line?.resp_status, 200);
    assert.equal(line?.user_agent, 'probe/1.0');
    assert.equal(line?.resp_size, Buffer.byteLength(JSON.stringify({ status: 'ok' })));
    assert.equal(line?.sender, 'httpd');
  });

  it('hands every other path to the REST application, errors included', async () => {
    const signal = AbortSignal.timeout(10_000);
    const missing = await fetch(`${base}/nowhere`, { signal });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'NOT_FOUND');
    const posted = await fetch(`${base}/healthz`, { method: 'POST', signal });
    assert.equal(posted.status, 404);
    await posted.arrayBuffer();
  });
});
