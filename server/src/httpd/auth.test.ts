import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { verifyPassword } from '../auth/passwords.js';
import { TOKEN_SECRET_NAME } from './admin-auth.js';
import { ensureAdmin } from './first-admin.js';
import {
  ADMIN,
  basicHeader,
  newProvider,
  startTestServer,
  type TestServer,
} from './test-support.js';

async function signWithProviderSecret(
  server: TestServer,
  claims: { exp: number; aud?: string },
): Promise<string> {
  const secret = await server.provider.getOrCreateSecret(TOKEN_SECRET_NAME, () => {
    throw new Error('the server should have created the signing secret already');
  });
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(ADMIN.username)
    .setIssuer('kubesftp')
    .setAudience(claims.aud ?? 'kubesftp-admin-api')
    .setIssuedAt(now - 3600)
    .setExpirationTime(claims.exp)
    .sign(new Uint8Array(Buffer.from(secret, 'base64')));
}

describe('admin authentication', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it('refuses the admin API without a token, with a Bearer challenge', async () => {
    const reply = await server.app.inject({ method: 'GET', url: '/api/v1/user' });
    assert.equal(reply.statusCode, 401);
    assert.match(String(reply.headers['www-authenticate']), /^Bearer /);
    assert.equal(reply.json().code, 'PERMISSION_DENIED');
  });

  it('refuses a token that is not a valid signature', async () => {
    const good = await server.bearer();
    const forged = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const authorization of [
      forged,
      'Bearer not-a-jwt',
      basicHeader(ADMIN.username, ADMIN.password),
    ]) {
      const reply = await server.app.inject({
        method: 'GET',
        url: '/api/v1/user',
        headers: { authorization },
      });
      assert.equal(reply.statusCode, 401, authorization);
    }
  });

  it('refuses an expired token signed with the right key', async () => {
    await server.bearer();
    const expired = await signWithProviderSecret(server, {
      exp: Math.floor(Date.now() / 1000) - 60,
    });
    const reply = await server.app.inject({
      method: 'GET',
      url: '/api/v1/user',
      headers: { authorization: `Bearer ${expired}` },
    });
    assert.equal(reply.statusCode, 401);
    assert.match(String(reply.headers['www-authenticate']), /error="invalid_token"/);
  });

  it('refuses a token made for another audience', async () => {
    const other = await signWithProviderSecret(server, {
      exp: Math.floor(Date.now() / 1000) + 60,
      aud: 'x',
    });
    const reply = await server.app.inject({
      method: 'GET',
      url: '/api/v1/user',
      headers: { authorization: `Bearer ${other}` },
    });
    assert.equal(reply.statusCode, 401);
  });

  it('issues a token for good Basic credentials and accepts it', async () => {
    const before = Date.now();
    const tokenReply = await server.app.inject({
      method: 'GET',
      url: '/api/v1/token',
      headers: { authorization: basicHeader(ADMIN.username, ADMIN.password) },
    });
    assert.equal(tokenReply.statusCode, 200);
    const { access_token, expires_at } = tokenReply.json<{
      access_token: string;
      expires_at: number;
    }>();
    assert.ok(
      expires_at > before + 1000 * 1000 && expires_at <= Date.now() + 1200 * 1000,
      String(expires_at),
    );
    const reply = await server.app.inject({
      method: 'GET',
      url: '/api/v1/user',
      headers: { authorization: `Bearer ${access_token}` },
    });
    assert.equal(reply.statusCode, 200);
  });

  it('refuses wrong, unknown or missing admin credentials with a Basic challenge', async () => {
    for (const authorization of [
      basicHeader(ADMIN.username, 'wrong'),
      basicHeader('nobody', ADMIN.password),
      undefined,
    ]) {
      const reply = await server.app.inject({
        method: 'GET',
        url: '/api/v1/token',
        headers: authorization === undefined ? {} : { authorization },
      });
      assert.equal(reply.statusCode, 401);
      assert.match(String(reply.headers['www-authenticate']), /^Basic /);
      assert.equal(reply.json().access_token, undefined);
    }
  });

  it('leaves version and the OpenAPI document open', async () => {
    const version = await server.app.inject({ method: 'GET', url: '/api/v1/version' });
    assert.equal(version.statusCode, 200);
    assert.deepEqual(version.json(), { version: '9.9.9-test' });
    const doc = await server.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    assert.equal(doc.statusCode, 200);
    assert.equal(doc.json().openapi, '3.0.3');
  });

  it('accepts a token issued by another server sharing the data provider', async () => {
    const other = await startTestServer({ provider: server.provider });
    try {
      const reply = await server.app.inject({
        method: 'GET',
        url: '/api/v1/user',
        headers: { authorization: await other.bearer() },
      });
      assert.equal(reply.statusCode, 200);
    } finally {
      await other.close();
    }
  });
});

describe('ensureAdmin', () => {
  it('creates the first admin with a generated password, once', async () => {
    const provider = await newProvider();
    try {
      const first = await ensureAdmin(provider);
      assert.equal(first.created, true);
      assert.ok(first.password !== undefined && first.password.length >= 20);
      const stored = (await provider.getAdminByUsername('admin'))!;
      assert.ok(stored?.password.startsWith('$argon2id$'));
      assert.equal(await verifyPassword(first.password, stored.password), true);
      assert.deepEqual(await ensureAdmin(provider, { password: 'ignored' }), { created: false });
      assert.equal(await provider.countAdmins(), 1);
    } finally {
      await provider.close();
    }
  });

  it('uses the given name and password and does not echo the password', async () => {
    const provider = await newProvider();
    try {
      assert.deepEqual(await ensureAdmin(provider, { username: 'ops', password: 's3cret-pass' }), {
        created: true,
      });
      const stored = await provider.getAdminByUsername('ops');
      assert.equal(await verifyPassword('s3cret-pass', stored?.password ?? ''), true);
    } finally {
      await provider.close();
    }
  });
});
