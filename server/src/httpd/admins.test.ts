import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, basicHeader, startTestServer, type TestServer } from './test-support.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface AdminReply {
  id: number;
  username: string;
  status: number;
  description: string;
}

describe('admins REST resource and token revocation', () => {
  let server: TestServer;
  let root: string;

  async function call(authorization: string, method: Method, url: string, payload?: object) {
    return server.app.inject({
      method,
      url,
      headers: { authorization },
      ...(payload ? { payload } : {}),
    });
  }

  async function tokenFor(username: string, password: string): Promise<string> {
    const reply = await server.app.inject({
      method: 'GET',
      url: '/api/v1/token',
      headers: { authorization: basicHeader(username, password) },
    });
    assert.equal(reply.statusCode, 200, `token for ${username}: ${reply.body}`);
    return `Bearer ${reply.json<{ access_token: string }>().access_token}`;
  }

  async function tokenStatus(username: string, password: string): Promise<number> {
    const reply = await server.app.inject({
      method: 'GET',
      url: '/api/v1/token',
      headers: { authorization: basicHeader(username, password) },
    });
    return reply.statusCode;
  }

  /** Status of an authenticated read with `authorization`: 200 while the token is good. */
  async function tokenWorks(authorization: string): Promise<number> {
    return (await call(authorization, 'GET', '/api/v1/admins')).statusCode;
  }

  async function createAdmin(username: string, password: string): Promise<AdminReply> {
    const reply = await call(root, 'POST', '/api/v1/admins', { username, password });
    assert.equal(reply.statusCode, 201, reply.body);
    return reply.json<AdminReply>();
  }

  before(async () => {
    server = await startTestServer();
    root = await tokenFor(ADMIN.username, ADMIN.password);
  });
  after(async () => {
    await server.close();
  });

  it('creates, lists, reads, updates and deletes admins without ever returning a hash', async () => {
    const created = await call(root, 'POST', '/api/v1/admins', {
      username: 'ops',
      password: 'ops-pass-1',
      description: 'on call',
    });
    assert.equal(created.statusCode, 201, created.body);
    const ops = created.json<AdminReply>();
    assert.deepEqual(
      { ...ops, id: 0 },
      { id: 0, username: 'ops', status: 1, description: 'on call' },
    );

    const listed = await call(root, 'GET', '/api/v1/admins?order=DESC');
    assert.equal(listed.statusCode, 200);
    assert.deepEqual(
      listed.json<AdminReply[]>().map((a) => a.username),
      ['root-admin', 'ops'],
    );
    const read = await call(root, 'GET', '/api/v1/admins/ops');
    assert.deepEqual(read.json(), ops);

    const updated = await call(root, 'PUT', '/api/v1/admins/ops', { description: 'backup' });
    assert.equal(updated.statusCode, 200, updated.body);
    assert.deepEqual(updated.json(), { ...ops, description: 'backup' });
    assert.equal(await tokenStatus('ops', 'ops-pass-1'), 200, 'the password was kept');

    for (const reply of [created, listed, read, updated]) {
      assert.doesNotMatch(reply.body, /password|argon2/);
    }

    assert.equal((await call(root, 'DELETE', '/api/v1/admins/ops')).statusCode, 200);
    assert.equal((await call(root, 'GET', '/api/v1/admins/ops')).statusCode, 404);
    assert.equal(await server.provider.getAdminByUsername('ops'), undefined);
  });

  it('refuses bad admin requests with 4xx and the error body', async () => {
    await createAdmin('dup', 'dup-pass-1');
    const cases: [Method, string, object | undefined, number][] = [
      ['POST', '/api/v1/admins', { username: 'dup', password: 'x' }, 409],
      ['POST', '/api/v1/admins', { username: 'nopass' }, 400],
      ['POST', '/api/v1/admins', { username: 'empty', password: '' }, 400],
      ['POST', '/api/v1/admins', { username: 'bad name', password: 'x' }, 400],
      ['PUT', '/api/v1/admins/dup', { username: 'other' }, 400],
      ['PUT', '/api/v1/admins/dup', { status: 2 }, 400],
      ['PUT', '/api/v1/admins/ghost', { description: 'x' }, 404],
      ['DELETE', '/api/v1/admins/ghost', undefined, 404],
      ['GET', '/api/v1/admins/ghost', undefined, 404],
    ];
    for (const [method, url, body, status] of cases) {
      const reply = await call(root, method, url, body);
      assert.equal(reply.statusCode, status, `${method} ${url} ${JSON.stringify(body)}`);
      assert.equal(typeof reply.json<{ code: string }>().code, 'string');
    }
    await call(root, 'DELETE', '/api/v1/admins/dup');
  });

  it('requires an admin token on every admin route', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/admins'],
      ['POST', '/api/v1/admins'],
      ['GET', '/api/v1/admins/root-admin'],
      ['PUT', '/api/v1/admins/root-admin'],
      ['DELETE', '/api/v1/admins/root-admin'],
      ['PUT', '/api/v1/admin/changepwd'],
    ] as const) {
      const reply = await server.app.inject({ method, url });
      assert.equal(reply.statusCode, 401, `${method} ${url}`);
    }
  });

  it('refuses to delete or disable the last active admin with 409', async () => {
    const alone = await call(root, 'DELETE', `/api/v1/admins/${ADMIN.username}`);
    assert.equal(alone.statusCode, 409, alone.body);
    assert.match(alone.json<{ error: string }>().error, /last active administrator/);
    const disable = await call(root, 'PUT', `/api/v1/admins/${ADMIN.username}`, { status: 0 });
    assert.equal(disable.statusCode, 409);
    assert.equal(await tokenWorks(root), 200, 'the refused requests changed nothing');
  });

  it('ends a token right after its admin is deleted', async () => {
    await createAdmin('leaver', 'leaver-pass-1');
    const storedHash = (await server.provider.getAdminByUsername('leaver'))!.password;
    const leaver = await tokenFor('leaver', 'leaver-pass-1');
    assert.equal(await tokenWorks(leaver), 200);
    assert.equal((await call(root, 'DELETE', '/api/v1/admins/leaver')).statusCode, 200);
    assert.equal(await tokenWorks(leaver), 401);

    // Recreated with the very same stored hash, the admin is still not the one the token named.
    await createAdmin('leaver', storedHash);
    assert.equal(await tokenWorks(leaver), 401);
    assert.equal(await tokenWorks(await tokenFor('leaver', 'leaver-pass-1')), 200);
    await call(root, 'DELETE', '/api/v1/admins/leaver');
  });

  it('ends the tokens of an admin right after its password is changed, and only its own', async () => {
    await createAdmin('rotor', 'rotor-pass-1');
    const before = await tokenFor('rotor', 'rotor-pass-1');
    assert.equal(await tokenWorks(before), 200);
    const changed = await call(root, 'PUT', '/api/v1/admins/rotor', { password: 'rotor-pass-2' });
    assert.equal(changed.statusCode, 200, changed.body);
    assert.equal(await tokenWorks(before), 401);
    assert.equal(await tokenStatus('rotor', 'rotor-pass-1'), 401);
    assert.equal(await tokenWorks(await tokenFor('rotor', 'rotor-pass-2')), 200);
    assert.equal(await tokenWorks(root), 200, "other admins' tokens go on working");

    // Setting the same password again stores a new salt: that too ends the tokens.
    const current = await tokenFor('rotor', 'rotor-pass-2');
    await call(root, 'PUT', '/api/v1/admins/rotor', { password: 'rotor-pass-2' });
    assert.equal(await tokenWorks(current), 401);
    await call(root, 'DELETE', '/api/v1/admins/rotor');
  });

  it('ends the tokens of a disabled admin and gives it no new one', async () => {
    await createAdmin('sleeper', 'sleeper-pass-1');
    const token = await tokenFor('sleeper', 'sleeper-pass-1');
    await call(root, 'PUT', '/api/v1/admins/sleeper', { status: 0 });
    assert.equal(await tokenWorks(token), 401);
    assert.equal(await tokenStatus('sleeper', 'sleeper-pass-1'), 401);
    await call(root, 'PUT', '/api/v1/admins/sleeper', { status: 1 });
    assert.equal(await tokenStatus('sleeper', 'sleeper-pass-1'), 200);
    await call(root, 'DELETE', '/api/v1/admins/sleeper');
  });

  it('lets the caller change its own password given the current one', async () => {
    await createAdmin('self', 'self-pass-1');
    const token = await tokenFor('self', 'self-pass-1');
    const wrong = await call(token, 'PUT', '/api/v1/admin/changepwd', {
      current_password: 'not it',
      new_password: 'self-pass-2',
    });
    assert.equal(wrong.statusCode, 403, wrong.body);
    assert.equal(await tokenWorks(token), 200, 'a refused change keeps the token');

    const missing = await call(token, 'PUT', '/api/v1/admin/changepwd', {
      new_password: 'x',
    });
    assert.equal(missing.statusCode, 400);

    // A new password that looks like a hash is still a clear-text password.
    const newPassword = '$1$saltsalt$looks-like-a-hash';
    const ok = await call(token, 'PUT', '/api/v1/admin/changepwd', {
      current_password: 'self-pass-1',
      new_password: newPassword,
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(await tokenWorks(token), 401, "the caller's own token ended");
    assert.equal(await tokenStatus('self', 'self-pass-1'), 401);
    assert.equal(await tokenWorks(await tokenFor('self', newPassword)), 200);
    assert.equal(await tokenWorks(root), 200);
    await call(root, 'DELETE', '/api/v1/admins/self');
  });
});
