import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { verifyPassword } from '../auth/passwords.js';
import { NO_MASTER_KEY, isSealed, secretBoxFor } from '../dataprovider/secret-box.js';
import { newUser } from '../dataprovider/test-support.js';
import { startTestServer, type TestServer } from './test-support.js';

interface UserReply {
  id: number;
  username: string;
  home_dir: string;
  [key: string]: unknown;
}

function newUserBody(
  username: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    username,
    password: `pw-${username}-1234`,
    home_dir: `/srv/sftp/${username}`,
    permissions: { '/': ['list', 'download'], '/in': ['*'] },
    quota_size: 1048576,
    filters: { allowed_ip: ['192.0.2.0/24'], denied_ip: [] },
    ...extra,
  };
}

describe('users REST resource', () => {
  let server: TestServer;
  let authorization: string;

  async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) {
    return server.app.inject({
      method,
      url,
      headers: { authorization },
      ...(payload ? { payload } : {}),
    });
  }

  before(async () => {
    server = await startTestServer({
      config: { bind_port: 0, bind_address: '127.0.0.1', users_base_dir: '/data/homes' },
    });
    authorization = await server.bearer();
  });
  after(async () => {
    await server.close();
  });

  it('creates, reads, updates and deletes a user', async () => {
    const created = await call('POST', '/api/v1/user', newUserBody('alice'));
    assert.equal(created.statusCode, 201, created.body);
    const alice = created.json<UserReply>();
    assert.equal(alice.username, 'alice');
    assert.equal(alice.quota_size, 1048576);
    assert.deepEqual(alice.permissions, { '/': ['list', 'download'], '/in': ['*'] });
    assert.equal(alice.status, 1);

    const read = await call('GET', `/api/v1/user/${alice.id}`);
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json(), alice);

    const updated = await call('PUT', `/api/v1/user/${alice.id}`, { max_sessions: 3, status: 0 });
    assert.equal(updated.statusCode, 200, updated.body);
    const after = updated.json<UserReply>();
    assert.equal(after.max_sessions, 3);
    assert.equal(after.status, 0);
    assert.equal(after.quota_size, 1048576, 'properties left out of the update are kept');

    const deleted = await call('DELETE', `/api/v1/user/${alice.id}`);
    assert.equal(deleted.statusCode, 200);
    assert.equal((await call('GET', `/api/v1/user/${alice.id}`)).statusCode, 404);
    assert.equal(await server.provider.getUserById(alice.id), undefined);
  });

  it('never returns the password hash nor the S3 secret, and stores clear passwords as argon2id', async () => {
    const body = newUserBody('bob', {
      filesystem: {
        provider: 1,
        s3config: {
          bucket: 'b',
          region: 'eu-west-1',
          access_key: 'AK',
          access_secret: 'top-secret-key',
        },
      },
    });
    const created = await call('POST', '/api/v1/user', body);
    assert.equal(created.statusCode, 201, created.body);
    const listed = await call('GET', '/api/v1/user?username=bob');
    for (const text of [created.body, listed.body]) {
      assert.doesNotMatch(text, /password|argon2|top-secret-key|access_secret/);
    }
    const bob = created.json<UserReply>();
    assert.deepEqual((bob.filesystem as { s3config: object }).s3config, {
      bucket: 'b',
      region: 'eu-west-1',
      access_key: 'AK',
      endpoint: '',
      storage_class: '',
      key_prefix: '',
    });
    assert.ok(!('access_secret' in (bob.filesystem as { s3config: object }).s3config));
    const stored = (await server.provider.getUserById(bob.id))!;
    assert.ok(stored?.password.startsWith('$argon2id$'), stored?.password);
    assert.equal(await verifyPassword('pw-bob-1234', stored.password), true);

    // An update that leaves the password and the secret out keeps both.
    const updated = await call('PUT', `/api/v1/user/${bob.id}`, {
      filesystem: {
        provider: 1,
        s3config: { bucket: 'b2', region: 'eu-west-1', access_key: 'AK' },
      },
    });
    assert.equal(updated.statusCode, 200, updated.body);
    const again = await server.provider.getUserById(bob.id);
    assert.equal(again?.password, stored.password);
    assert.equal(again?.filesystem.s3config?.bucket, 'b2');
    // Stored sealed, never in clear, kept as it was (not sealed twice), and it opens.
    const sealed = stored.filesystem.s3config!.access_secret;
    assert.ok(isSealed(sealed), sealed);
    assert.doesNotMatch(sealed, /top-secret-key/);
    assert.equal(again?.filesystem.s3config?.access_secret, sealed);
    const box = secretBoxFor(NO_MASTER_KEY, server.provider);
    assert.equal(await box.open(sealed), 'top-secret-key');
  });

  it('stores a bcrypt hash sent by the client as is', async () => {
    const hash = bcrypt.hashSync('imported-secret', 4);
    const created = await call('POST', '/api/v1/user', newUserBody('carol', { password: hash }));
    assert.equal(created.statusCode, 201, created.body);
    const stored = await server.provider.getUserById(created.json<UserReply>().id);
    assert.equal(stored?.password, hash);
    assert.equal(await verifyPassword('imported-secret', stored.password), true);
  });

  it('defaults an empty home_dir to users_base_dir/username', async () => {
    const created = await call('POST', '/api/v1/user', newUserBody('dave', { home_dir: '' }));
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json<UserReply>().home_dir, '/data/homes/dave');
  });

  it('answers 409 to a duplicate username', async () => {
    assert.equal((await call('POST', '/api/v1/user', newUserBody('erin'))).statusCode, 201);
    const again = await call('POST', '/api/v1/user', newUserBody('erin'));
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, 'CONFLICT');
  });

  it('answers 400 naming the offending field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [newUserBody('frank', { quota_size: -1 }), /quota_size/],
      [newUserBody('frank', { status: 7 }), /status/],
      [newUserBody('frank', { permissions: { '/': ['fly'] } }), /permissions/],
      [newUserBody('fr/ank'), /username/],
      [{ password: 'x' }, /username/],
      [newUserBody('frank', { home_dir: 'relative/path' }), /home_dir/],
      [newUserBody('frank', { permissions: {} }), /permissions/],
      [
        newUserBody('frank', { filters: { allowed_ip: ['not-a-cidr'], denied_ip: [] } }),
        /allowed_ip/,
      ],
    ];
    for (const [body, field] of cases) {
      const reply = await call('POST', '/api/v1/user', body);
      assert.equal(reply.statusCode, 400, `${JSON.stringify(body)} -> ${reply.body}`);
      assert.equal(reply.json().code, 'INVALID_ARGUMENT');
      assert.match(reply.json<{ error: string }>().error, field);
    }
    assert.equal((await call('GET', '/api/v1/user?username=frank')).json().length, 0);
  });

  it('refuses to rename a user', async () => {
    const created = await call('POST', '/api/v1/user', newUserBody('gina'));
    const reply = await call('PUT', `/api/v1/user/${created.json<UserReply>().id}`, {
      username: 'gina2',
    });
    assert.equal(reply.statusCode, 400);
    assert.match(reply.json<{ error: string }>().error, /username/);
  });

  it('refuses with 409 naming the SftpUser to change or delete an account the operator manages', async () => {
    const managed = await server.provider.addUser(
      newUser({
        username: 'olive',
        password: '$2a$10$abcdefghijklmnopqrstuu5Pnwz1mB3Nz0lNnqH0u3q7c8iJ8bCQW',
        home_dir: '/srv/sftp/olive',
        managed_by: 'tenants/olive',
      }),
    );
    const read = await call('GET', `/api/v1/user/${managed.id}`);
    assert.equal(read.statusCode, 200);
    assert.equal(read.json<UserReply>().managed_by, 'tenants/olive');
    const change = await call('PUT', `/api/v1/user/${managed.id}`, { max_sessions: 3 });
    assert.equal(change.statusCode, 409, change.body);
    assert.equal(change.json().code, 'CONFLICT');
    assert.match(change.json<{ error: string }>().error, /managed by SftpUser tenants\/olive/);
    const remove = await call('DELETE', `/api/v1/user/${managed.id}`);
    assert.equal(remove.statusCode, 409, remove.body);
    assert.match(remove.json<{ error: string }>().error, /SftpUser tenants\/olive/);
    const after = await server.provider.getUserById(managed.id);
    assert.equal(after?.max_sessions, 0);
    // The marker is not an input: a REST client can neither set nor clear it.
    const created = await call('POST', '/api/v1/user', newUserBody('pia', { managed_by: 'x/y' }));
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json<UserReply>().managed_by, '');
    const edited = await call('PUT', `/api/v1/user/${created.json<UserReply>().id}`, {
      managed_by: 'x/y',
      max_sessions: 4,
    });
    assert.equal(edited.statusCode, 200, edited.body);
    assert.equal(edited.json<UserReply>().managed_by, '');
  });

  it('answers 404 for an unknown user and 400 for a malformed id', async () => {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const reply = await call(
        method,
        '/api/v1/user/987654',
        method === 'PUT' ? { status: 1 } : undefined,
      );
      assert.equal(reply.statusCode, 404, method);
      assert.equal(reply.json().code, 'NOT_FOUND');
    }
    assert.equal((await call('GET', '/api/v1/user/abc')).statusCode, 400);
  });

  it('pages and orders the user list', async () => {
    const names = ['p-03', 'p-01', 'p-05', 'p-02', 'p-04'];
    for (const name of names)
      assert.equal((await call('POST', '/api/v1/user', newUserBody(name))).statusCode, 201);
    const all = (await call('GET', '/api/v1/user?limit=500'))
      .json<UserReply[]>()
      .map((u) => u.username);
    const ours = all.filter((n) => n.startsWith('p-'));
    assert.deepEqual(ours, [...names].sort());
    assert.deepEqual(all, [...all].sort(), 'ASC is the default order');

    const page = async (query: string): Promise<string[]> => {
      const reply = await call('GET', `/api/v1/user?${query}`);
      assert.equal(reply.statusCode, 200, reply.body);
      return reply.json<UserReply[]>().map((u) => u.username);
    };
    const first = await page('limit=2&offset=0');
    const second = await page('limit=2&offset=2');
    assert.equal(first.length, 2);
    assert.deepEqual([...first, ...second], all.slice(0, 4));
    assert.deepEqual(await page('limit=2&order=DESC'), [...all].reverse().slice(0, 2));
    assert.deepEqual(await page('username=p-04'), ['p-04']);
    for (const bad of ['limit=501', 'limit=0', 'offset=-1', 'order=SIDEWAYS']) {
      assert.equal((await call('GET', `/api/v1/user?${bad}`)).statusCode, 400, bad);
    }
  });
});

describe('users REST resource with data_provider.manage_users 0', () => {
  it('reads users but refuses to create, change or delete them with 403', async () => {
    const server = await startTestServer({
      config: { bind_port: 0, bind_address: '127.0.0.1', manage_users: 0 },
    });
    try {
      // The accounts come from elsewhere (a database view, the operator); here they are read.
      const stored = await server.provider.addUser(newUser({ password: '$1$x$y' }));
      const authorization = await server.bearer();
      const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
        server.app.inject({
          method,
          url,
          headers: { authorization },
          ...(payload ? { payload } : {}),
        });
      assert.equal((await call('GET', '/api/v1/user')).json<unknown[]>().length, 1);
      assert.equal((await call('GET', `/api/v1/user/${stored.id}`)).statusCode, 200);
      for (const [method, url, body] of [
        ['POST', '/api/v1/user', newUserBody('carol')],
        ['PUT', `/api/v1/user/${stored.id}`, { status: 0 }],
        ['DELETE', `/api/v1/user/${stored.id}`, undefined],
      ] as const) {
        const reply = await call(method, url, body);
        assert.equal(reply.statusCode, 403, `${method} ${url}: ${reply.body}`);
        assert.match(reply.json<{ error: string }>().error, /manage_users is 0/);
      }
      assert.deepEqual(await server.provider.getUserById(stored.id), stored);
    } finally {
      await server.close();
    }
  });
});
