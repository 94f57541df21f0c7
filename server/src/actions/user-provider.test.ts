import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDataProvider } from '../dataprovider/index.js';
import { newUser } from '../dataprovider/test-support.js';
import type { User } from '../dataprovider/types.js';
import type { UserActionName } from './calls.js';
import { withUserActions } from './user-provider.js';

test('account writes report their action once stored; bookkeeping reports nothing', async () => {
  const inner = await createDataProvider({ driver: 'memory', name: 'actions', configDir: '.' });
  await inner.initialize();
  const seen: [UserActionName, string, number][] = [];
  let reads = 0;
  const counting = new Proxy(inner, {
    get(target, property) {
      if (property === 'getUserById') reads += 1;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  const wanted = new Set<UserActionName>(['add', 'update']);
  const provider = withUserActions(
    counting,
    (action) => wanted.has(action),
    (action, user: User) => seen.push([action, user.username, user.quota_files]),
  );
  try {
    assert.equal(provider.driver, inner.driver);
    const added = await provider.addUser(newUser({ password: 'pw-123456' }));
    await provider.updateUser(added.id, { ...newUser({ quota_files: 9 }), password: 'pw-123456' });
    await provider.updateQuota('alice', { sizeDelta: 10, filesDelta: 1, reset: false });
    await provider.updateLastLogin('alice', Date.now());
    await assert.rejects(provider.addUser(newUser({ password: 'pw-123456' })), /already taken/);
    await provider.deleteUser(added.id);
    assert.equal(reads, 0, 'delete reads the account only when its action is wanted');
    wanted.add('delete');
    const again = await provider.addUser(newUser({ username: 'bob', password: 'pw-123456' }));
    await provider.deleteUser(again.id);
    assert.deepEqual(seen, [
      ['add', 'alice', 0],
      ['update', 'alice', 9],
      ['add', 'bob', 0],
      ['delete', 'bob', 0],
    ]);
    assert.equal(await provider.getUserByUsername('bob'), undefined);
  } finally {
    await provider.close();
  }
});
