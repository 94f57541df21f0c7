import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DefenderHostMap } from '../dataprovider/defender-hosts.js';
import { Defender } from '../defender/defender.js';
import { IpRanges } from '../session/ip-ranges.js';
import { startTestServer, type TestServer } from './test-support.js';

describe('defender routes', () => {
  const clock = { now: 1_700_000_000_000 };
  const defender = new Defender({
    settings: {
      enabled: true,
      policy: { threshold: 3, banMs: 60_000, banIncrementPercent: 50, observationMs: 600_000 },
      scores: { invalid_user: 2, failed_login: 1, limit_exceeded: 3, no_auth: 0 },
      safeList: new IpRanges([]),
      blockList: new IpRanges([]),
      entries: { softLimit: 10, hardLimit: 20 },
    },
    store: new DefenderHostMap(),
    now: () => clock.now,
  });
  let server: TestServer;
  let authorization: string;

  before(async () => {
    server = await startTestServer({ defender });
    authorization = await server.bearer();
    await defender.record('192.0.2.1', 'failed_login');
    clock.now += 1000;
    await defender.record('2001:db8::7', 'limit_exceeded');
  });
  after(async () => {
    await server.close();
  });

  const request = (method: 'GET' | 'DELETE', url: string) =>
    server.app.inject({ method, url: `/api/v1${url}`, headers: { authorization } });

  it('lists scored and banned addresses, newest first, behind the admin token', async () => {
    const anonymous = await server.app.inject({ method: 'GET', url: '/api/v1/defender/hosts' });
    assert.equal(anonymous.statusCode, 401);
    const listed = await request('GET', '/defender/hosts');
    assert.equal(listed.statusCode, 200);
    assert.deepEqual(listed.json(), [
      { ip: '2001:db8::7', score: 0, banned_until: clock.now + 60_000 },
      { ip: '192.0.2.1', score: 1, banned_until: 0 },
    ]);
  });

  it('unbans an address, and says so when it is not tracked or not an address', async () => {
    assert.equal(await defender.isBanned('2001:db8::7'), true);
    const unbanned = await request('DELETE', '/defender/hosts/2001:db8::7');
    assert.equal(unbanned.statusCode, 200, unbanned.body);
    assert.equal(await defender.isBanned('2001:db8::7'), false);
    const again = await request('DELETE', '/defender/hosts/2001:db8::7');
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().code, 'NOT_FOUND');
    const bad = await request('DELETE', '/defender/hosts/not-an-ip');
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'INVALID_ARGUMENT');
    const left = (await request('GET', '/defender/hosts')).json<{ ip: string }[]>();
    assert.deepEqual(
      left.map((h) => h.ip),
      ['192.0.2.1'],
    );
  });

  it('lists nothing and unbans nothing without a defender', async () => {
    const bare = await startTestServer();
    try {
      const auth = { authorization: await bare.bearer() };
      const listed = await bare.app.inject({
        method: 'GET',
        url: '/api/v1/defender/hosts',
        headers: auth,
      });
      assert.deepEqual(listed.json(), []);
      const unban = await bare.app.inject({
        method: 'DELETE',
        url: '/api/v1/defender/hosts/192.0.2.1',
        headers: auth,
      });
      assert.equal(unban.statusCode, 404);
    } finally {
      await bare.close();
    }
  });
});
