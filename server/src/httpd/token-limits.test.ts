import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { passwordCheckLimit } from '../auth/check-limit.js';
import { DefenderHostMap } from '../dataprovider/defender-hosts.js';
import { Defender } from '../defender/defender.js';
import { IpRanges } from '../session/ip-ranges.js';
import { ADMIN, basicHeader, startTestServer, type TestServer } from './test-support.js';

const GOOD = basicHeader(ADMIN.username, ADMIN.password);

function tokenRequest(server: TestServer, remoteAddress: string, authorization?: string) {
  return server.app.inject({
    method: 'GET',
    url: '/api/v1/token',
    remoteAddress,
    headers: authorization === undefined ? {} : { authorization },
  });
}

async function withServer(
  tokenRateLimit: number,
  body: (server: TestServer) => Promise<void>,
): Promise<void> {
  const server = await startTestServer({
    config: { bind_port: 0, bind_address: '127.0.0.1', token_rate_limit: tokenRateLimit },
  });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

describe('token endpoint limits', () => {
  it('answers 429 with Retry-After past httpd.token_rate_limit, per client address', async () => {
    await withServer(3, async (server) => {
      // Requests without credentials count too: each would have cost a hash had they had any.
      for (let i = 0; i < 3; i++) {
        assert.equal((await tokenRequest(server, '192.0.2.1')).statusCode, 401);
      }
      const limited = await tokenRequest(server, '192.0.2.1', GOOD);
      assert.equal(limited.statusCode, 429, limited.body);
      const body = limited.json<{ error: string; code: string }>();
      assert.equal(body.code, 'RATE_LIMITED');
      assert.match(body.error, /too many token requests/);
      const retryAfter = Number(limited.headers['retry-after']);
      assert.ok(retryAfter > 0 && retryAfter <= 60, `retry-after ${retryAfter}`);

      const other = await tokenRequest(server, '192.0.2.2', GOOD);
      assert.equal(other.statusCode, 200, other.body);
      assert.ok(other.json().access_token);
    });
  });

  it('limits only the token route', async () => {
    await withServer(1, async (server) => {
      await tokenRequest(server, '127.0.0.1');
      assert.equal((await tokenRequest(server, '127.0.0.1')).statusCode, 429);
      for (let i = 0; i < 3; i++) {
        const version = await server.app.inject({ method: 'GET', url: '/api/v1/version' });
        assert.equal(version.statusCode, 200);
      }
    });
  });

  it('does not limit when httpd.token_rate_limit is 0', async () => {
    await withServer(0, async (server) => {
      for (let i = 0; i < 25; i++) {
        assert.equal((await tokenRequest(server, '192.0.2.1')).statusCode, 401);
      }
      assert.equal((await tokenRequest(server, '192.0.2.1', GOOD)).statusCode, 200);
    });
  });

  it('refuses good credentials as invalid, at once, while password checks are saturated', async () => {
    await withServer(0, async (server) => {
      let release = (): void => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      const slots = passwordCheckLimit.maxActive + passwordCheckLimit.maxQueued;
      const busy = Array.from({ length: slots }, () => passwordCheckLimit.run(() => held));
      try {
        const refused = await tokenRequest(server, '192.0.2.1', GOOD);
        assert.equal(refused.statusCode, 401);
      } finally {
        release();
        await Promise.all(busy);
      }
      assert.equal((await tokenRequest(server, '192.0.2.1', GOOD)).statusCode, 200);
    });
  });
});

describe('token endpoint and the defender', () => {
  it('wrong admin credentials score the address until it is banned; other addresses go on', async () => {
    const defender = new Defender({
      settings: {
        enabled: true,
        policy: { threshold: 4, banMs: 60_000, banIncrementPercent: 50, observationMs: 600_000 },
        scores: { invalid_user: 2, failed_login: 1, limit_exceeded: 3, no_auth: 0 },
        safeList: new IpRanges([]),
        blockList: new IpRanges(['198.51.100.0/24']),
        entries: { softLimit: 10, hardLimit: 20 },
      },
      store: new DefenderHostMap(),
    });
    const server = await startTestServer({ defender });
    try {
      // An unknown admin scores 2, a wrong password for the real one 1: 2 + 1 + 1 = 4 bans.
      const attempts = [
        basicHeader('nobody', 'guess'),
        basicHeader(ADMIN.username, 'guess-1'),
        basicHeader(ADMIN.username, 'guess-2'),
      ];
      for (const attempt of attempts) {
        assert.equal((await tokenRequest(server, '192.0.2.9', attempt)).statusCode, 401);
      }
      assert.equal(await defender.isBanned('192.0.2.9'), true);
      const banned = await tokenRequest(server, '192.0.2.9', GOOD);
      assert.equal(banned.statusCode, 403, banned.body);
      assert.equal((await tokenRequest(server, '192.0.2.10', GOOD)).statusCode, 200);
      // Missing credentials cost no hash and score nothing.
      assert.equal((await tokenRequest(server, '192.0.2.11')).statusCode, 401);
      assert.equal(await defender.isBanned('192.0.2.11'), false);
      assert.deepEqual(
        (await defender.hosts()).map((host) => host.ip),
        ['192.0.2.9'],
      );
      // The block list refuses even the right credentials.
      assert.equal((await tokenRequest(server, '198.51.100.7', GOOD)).statusCode, 403);
    } finally {
      await server.close();
    }
  });
});
