/**
 * The contract of home removals (an account deleted with its data), run by contract.test.ts
 * inside each driver's suite, so every driver and the database servers started there are
 * covered, from two provider instances where the store can be shared.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ErrorCode, isKubesftpError, type ErrorCode as Code } from '../errors.js';
import { FsProvider, type UserFilesystem } from './account-schema.js';
import { newUser as baseUser } from './test-support.js';
import type { DataProvider, HomeRemovalClaim, NewUser } from './types.js';

const HASH = '$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/';

function newUser(overrides: Partial<NewUser> = {}): NewUser {
  return baseUser({ password: HASH, ...overrides });
}

function s3Home(prefix: string, bucket = 'homes'): UserFilesystem {
  return {
    provider: FsProvider.s3,
    s3config: {
      bucket,
      region: 'us-east-1',
      access_key: 'key',
      access_secret: 'secret',
      endpoint: 'http://127.0.0.1:9000',
      storage_class: '',
      key_prefix: prefix,
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: Code): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(isKubesftpError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  });
}

function claimed(claim: HomeRemovalClaim | undefined): number {
  assert.equal(claim?.kind, 'claimed', `expected a claim, got ${JSON.stringify(claim)}`);
  return claim.removal.id;
}

export interface HomeRemovalContractOptions {
  provider(): DataProvider;
  openAnother(): Promise<DataProvider>;
  shared: boolean;
}

const LEASE = { leaseMs: 60_000 };

export function homeRemovalContract(o: HomeRemovalContractOptions): void {
  it('deletes an account and records its home for removal in one step', async () => {
    const p = o.provider();
    const alice = await p.addUser(newUser({ home_dir: '/srv/sftp/alice' }));
    const removal = await p.deleteUserAndHome(alice.id);
    assert.equal(await p.getUserById(alice.id), undefined);
    assert.equal(removal.username, 'alice');
    assert.equal(removal.home_dir, '/srv/sftp/alice');
    assert.deepEqual(removal.filesystem, { provider: 0 });
    assert.equal(removal.attempts, 0);
    assert.deepEqual(await p.listHomeRemovals(), [removal]);
    await rejectsWith(p.deleteUserAndHome(alice.id), ErrorCode.NOT_FOUND);
    assert.equal((await p.listHomeRemovals()).length, 1, 'a failed delete records nothing');
  });

  it('refuses a home at or inside one being removed until the removal is finished', async () => {
    const p = o.provider();
    const alice = await p.addUser(newUser({ home_dir: '/srv/sftp/alice' }));
    const removal = await p.deleteUserAndHome(alice.id);
    await rejectsWith(
      p.addUser(newUser({ home_dir: '/srv/sftp/alice' })),
      ErrorCode.HOME_BEING_REMOVED,
    );
    await rejectsWith(
      p.addUser(newUser({ username: 'bob', home_dir: '/srv/sftp/alice/' })),
      ErrorCode.HOME_BEING_REMOVED,
    );
    await rejectsWith(
      p.addUser(newUser({ username: 'bob', home_dir: '/srv/sftp/alice/inner' })),
      ErrorCode.HOME_BEING_REMOVED,
    );
    // Beside it and above it is free: removing a directory inside a home is no conflict.
    await p.addUser(newUser({ username: 'alice2', home_dir: '/srv/sftp/alice2' }));
    const carol = await p.addUser(newUser({ username: 'carol', home_dir: '/srv/sftp' }));
    await rejectsWith(
      p.updateUser(carol.id, newUser({ username: 'carol', home_dir: '/srv/sftp/alice' })),
      ErrorCode.HOME_BEING_REMOVED,
    );
    assert.equal((await p.getUserById(carol.id))?.home_dir, '/srv/sftp', 'nothing written');
    assert.equal(await p.getUserByUsername('alice'), undefined);

    const id = claimed(await p.claimHomeRemoval({ nodeId: 'node-a', ...LEASE }));
    assert.equal(id, removal.id);
    await rejectsWith(
      p.addUser(newUser({ home_dir: '/srv/sftp/alice' })),
      ErrorCode.HOME_BEING_REMOVED,
    );
    await p.finishHomeRemoval(id, 'node-a');
    assert.deepEqual(await p.listHomeRemovals(), []);
    const again = await p.addUser(newUser({ home_dir: '/srv/sftp/alice' }));
    assert.equal(again.username, 'alice');
  });

  it('tells S3 homes apart by server, bucket and prefix', async () => {
    const p = o.provider();
    const alice = await p.addUser(newUser({ filesystem: s3Home('tenants/alice') }));
    await p.deleteUserAndHome(alice.id);
    await rejectsWith(
      p.addUser(newUser({ filesystem: s3Home('/tenants/alice/') })),
      ErrorCode.HOME_BEING_REMOVED,
    );
    await rejectsWith(
      p.addUser(newUser({ username: 'bob', filesystem: s3Home('tenants/alice/bob') })),
      ErrorCode.HOME_BEING_REMOVED,
    );
    await p.addUser(newUser({ username: 'b1', filesystem: s3Home('tenants/alice', 'other') }));
    await p.addUser(newUser({ username: 'b2', filesystem: s3Home('tenants/alice2') }));
    await p.addUser(newUser({ username: 'b3', home_dir: '/tenants/alice' }));
    const [removal] = await p.listHomeRemovals();
    assert.equal(removal?.filesystem.s3config?.key_prefix, 'tenants/alice');
  });

  it('gives each removal to one process at a time, for its lease', async () => {
    const p = o.provider();
    const other = o.shared ? await o.openAnother() : p;
    const alice = await p.addUser(newUser({ home_dir: '/srv/sftp/alice' }));
    await p.deleteUserAndHome(alice.id);
    const first = claimed(await p.claimHomeRemoval({ nodeId: 'node-a', leaseMs: 0 }));
    // A lease of 0 has run out at once: another process takes the removal over.
    const id = claimed(await other.claimHomeRemoval({ nodeId: 'node-b', ...LEASE }));
    assert.equal(id, first);
    assert.equal(await p.claimHomeRemoval({ nodeId: 'node-a', ...LEASE }), undefined);
    await p.finishHomeRemoval(id, 'node-a');
    assert.equal((await p.listHomeRemovals()).length, 1, 'only the holder finishes it');
    await other.finishHomeRemoval(id, 'node-b');
    assert.deepEqual(await p.listHomeRemovals(), []);
    assert.equal(await other.claimHomeRemoval({ nodeId: 'node-b', ...LEASE }), undefined);
  });

  it('counts a failed attempt and makes the removal due again later', async () => {
    const p = o.provider();
    const alice = await p.addUser(newUser({ home_dir: '/srv/sftp/alice' }));
    await p.deleteUserAndHome(alice.id);
    const id = claimed(await p.claimHomeRemoval({ nodeId: 'node-a', ...LEASE }));
    await p.deferHomeRemoval({ id, nodeId: 'node-b', error: 'not the holder', afterMs: 0 });
    assert.equal((await p.listHomeRemovals())[0]?.attempts, 0, 'only the holder defers it');
    await p.deferHomeRemoval({ id, nodeId: 'node-a', error: 'EIO', afterMs: 60_000 });
    const [deferred] = await p.listHomeRemovals();
    assert.equal(deferred?.attempts, 1);
    assert.equal(deferred?.last_error, 'EIO');
    assert.equal(await p.claimHomeRemoval({ nodeId: 'node-a', ...LEASE }), undefined);
    await p.dropHomeRemoval(id);
    assert.deepEqual(await p.listHomeRemovals(), []);
  });

  it('drops a removal whose home an account uses: its data is not removed', async () => {
    const p = o.provider();
    const alice = await p.addUser(newUser({ home_dir: '/srv/sftp/alice' }));
    await p.addUser(newUser({ username: 'bob', home_dir: '/srv/sftp/alice/bob' }));
    await p.deleteUserAndHome(alice.id);
    const claim = await p.claimHomeRemoval({ nodeId: 'node-a', ...LEASE });
    assert.equal(claim?.kind, 'in_use');
    assert.equal(claim.kind === 'in_use' ? claim.usedBy : '', 'bob');
    assert.deepEqual(await p.listHomeRemovals(), []);
  });

  it('never leaves an account and a claimable removal of its home when both race', async () => {
    const p = o.provider();
    const other = o.shared ? await o.openAnother() : p;
    for (let round = 0; round < 8; round++) {
      const user = newUser({ username: `racer${round}`, home_dir: `/srv/sftp/racer${round}` });
      const first = await p.addUser(user);
      const [deleted, added] = await Promise.allSettled([
        p.deleteUserAndHome(first.id),
        other.addUser(user),
      ]);
      assert.equal(deleted.status, 'fulfilled');
      assert.equal(added.status, 'rejected', 'the name or the home was still taken');
      const claim = await p.claimHomeRemoval({ nodeId: 'node-a', ...LEASE });
      const exists = (await p.getUserByUsername(user.username)) !== undefined;
      assert.ok(!(exists && claim?.kind === 'claimed'), `round ${round}: both won`);
      if (claim?.kind === 'claimed') await p.finishHomeRemoval(claim.removal.id, 'node-a');
    }
  });
}
