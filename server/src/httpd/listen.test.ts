import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureAdmin } from './admin-auth.js';
import { createHttpServer } from './server.js';
import { ADMIN, captureLogger, newProvider } from './test-support.js';
import type { DataProvider } from '../dataprovider/types.js';
import type { HttpServer } from './types.js';

describe('createHttpServer on a real socket', () => {
  let provider: DataProvider;
  let server: HttpServer;
  let base: string;

  before(async () => {
    provider = await newProvider();
    await ensureAdmin(provider, ADMIN);
    server = await createHttpServer({
      provider,
      logger: captureLogger().logger,
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
});
