import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateUser } from '../../../server/src/dataprovider/validate.js';
import type { SftpUser } from '../api/objects.js';
import { desiredAccount, quantityBytes, sameAccountFields } from './account.js';

const user = (spec: Partial<SftpUser['spec']> = {}): SftpUser => ({
  metadata: { name: 'alice', namespace: 'tenants', uid: 'u1' },
  spec: { serverRef: { name: 'sftp' }, password: { generate: true }, ...spec },
});

describe('desiredAccount', () => {
  it('maps every spec field to its account property, and the result passes the provider checks', () => {
    const account = desiredAccount({
      user: user({
        username: 'alice.smith',
        suspended: true,
        expiration: '2030-01-02T03:04:05Z',
        permissions: { '/': ['list'], '/in': ['upload', 'list'] },
        quota: { size: '10Gi', files: 500 },
        bandwidth: { uploadKBps: 100, downloadKBps: 200 },
        maxSessions: 3,
        filters: { allowedIPs: ['192.0.2.0/24'], deniedIPs: ['192.0.2.7/32'] },
        home: { subPath: 'teams/alice' },
      }),
      passwordHash: '$pbkdf2-sha256$1000$salt$AAAA',
      publicKeys: [],
    });
    assert.deepEqual(account, {
      username: 'alice.smith',
      password: '$pbkdf2-sha256$1000$salt$AAAA',
      public_keys: [],
      status: 0,
      expiration_date: Date.UTC(2030, 0, 2, 3, 4, 5),
      home_dir: '/srv/sftp/teams/alice',
      uid: 0,
      gid: 0,
      max_sessions: 3,
      quota_size: 10 * 2 ** 30,
      quota_files: 500,
      permissions: { '/': ['list'], '/in': ['upload', 'list'] },
      upload_bandwidth: 100,
      download_bandwidth: 200,
      filters: { allowed_ip: ['192.0.2.0/24'], denied_ip: ['192.0.2.7/32'] },
      filesystem: { provider: 0 },
      managed_by: 'tenants/alice',
    });
    validateUser(account);
  });

  it('gives the defaults the REST API gives: active, every permission, home named after the user', () => {
    const account = desiredAccount({
      user: user(),
      passwordHash: '',
      publicKeys: ['ssh-ed25519 AAAA'],
    });
    assert.equal(account.username, 'alice');
    assert.equal(account.status, 1);
    assert.deepEqual(account.permissions, { '/': ['*'] });
    assert.equal(account.home_dir, '/srv/sftp/alice');
    assert.equal(account.quota_size, 0);
  });

  it('compares stored accounts field by field, the password and usage counters aside', () => {
    const desired = desiredAccount({ user: user(), passwordHash: 'h1', publicKeys: [] });
    const stored = {
      ...desired,
      password: 'h2',
      id: 7,
      used_quota_size: 10,
      used_quota_files: 1,
      last_quota_update: 5,
      last_login: 9,
    };
    assert.equal(sameAccountFields(stored, desired), true);
    assert.equal(sameAccountFields({ ...stored, max_sessions: 9 }, desired), false);
    assert.equal(sameAccountFields({ ...stored, managed_by: '' }, desired), false);
  });
});

describe('quantityBytes', () => {
  it('reads binary and decimal suffixes and plain numbers', () => {
    assert.equal(quantityBytes('1Ki'), 1024);
    assert.equal(quantityBytes('2M'), 2_000_000);
    assert.equal(quantityBytes('1.5Gi'), 1.5 * 2 ** 30);
    assert.equal(quantityBytes('123'), 123);
    assert.equal(quantityBytes(42), 42);
    assert.equal(quantityBytes(undefined), 0);
    assert.throws(() => quantityBytes('ten'), /quota.size/);
  });
});
