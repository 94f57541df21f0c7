import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { MemoryProvider } from '../dataprovider/memory.js';
import { newUser } from '../dataprovider/test-support.js';
import { ClusterSessions } from './cluster.js';
import { ConnectionRegistry } from './registry.js';

test('protocol changes reach the session row in order, and one that failed is written at the next heartbeat', async () => {
  const provider = new MemoryProvider();
  const user = await provider.addUser(newUser({ password: '$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/' }));
  const written: string[] = [];
  let failNext = false;
  const setSessionProtocol = provider.setSessionProtocol.bind(provider);
  provider.setSessionProtocol = async (id, protocol) => {
    await sleep(20);
    if (failNext) {
      failNext = false;
      throw new Error('database away');
    }
    written.push(protocol);
    return setSessionProtocol(id, protocol);
  };
  const cluster = new ClusterSessions({
    provider,
    registry: new ConnectionRegistry(),
    logger: pino({ level: 'silent' }),
    ttlMs: 600,
  });
  cluster.start();
  try {
    const connection = { connectionId: 'c1', clientIp: '192.0.2.1', protocol: 'SFTP' as const };
    assert.equal(await cluster.claim(user, connection), true);
    cluster.setProtocol('c1', 'SFTP');
    cluster.setProtocol('c1', 'SCP');
    cluster.setProtocol('c1', 'SSH');
    cluster.setProtocol('c1', 'SCP');
    await sleep(100);
    // The first write runs alone; the changes meanwhile fold into one write of the newest.
    assert.deepEqual(written, ['SCP', 'SCP']);

    failNext = true;
    cluster.setProtocol('c1', 'SSH');
    await sleep(50);
    assert.equal(cluster.health().status, 'degraded');
    assert.deepEqual(written, ['SCP', 'SCP']);
    await sleep(400);
    assert.deepEqual(written, ['SCP', 'SCP', 'SSH'], 'written again after a heartbeat');
    assert.equal(cluster.health().status, 'ok');
  } finally {
    await cluster.stop();
  }
});
