import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { User } from '../dataprovider/types.js';
import { mergeUserInput, toNewUser } from './user-input.js';

const stored: User = {
  id: 7,
  username: 'sam',
  password: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
  public_keys: [],
  status: 1,
  expiration_date: 0,
  home_dir: '/srv/sam',
  uid: 1000,
  gid: 1000,
  max_sessions: 2,
  quota_size: 10,
  quota_files: 5,
  permissions: { '/': ['*'] },
  used_quota_size: 3,
  used_quota_files: 1,
  last_quota_update: 1,
  upload_bandwidth: 0,
  download_bandwidth: 0,
  last_login: 2,
  filters: { allowed_ip: ['10.0.0.0/8'], denied_ip: [] },
  filesystem: {
    provider: 1,
    s3config: {
      bucket: 'b',
      region: 'r',
      access_key: 'k',
      access_secret: 'enc:secret',
      endpoint: '',
      storage_class: '',
      key_prefix: 'sam/',
    },
  },
};

describe('mergeUserInput', () => {
  it('drops what the provider owns', () => {
    const plain = toNewUser(stored);
    for (const key of [
      'id',
      'used_quota_size',
      'used_quota_files',
      'last_quota_update',
      'last_login',
    ]) {
      assert.ok(!(key in plain), key);
    }
    assert.equal(plain.username, 'sam');
  });

  it('keeps stored properties, the password and the S3 secret that an update leaves out', () => {
    const merged = mergeUserInput(
      {
        quota_files: 9,
        filters: { denied_ip: ['10.1.0.0/16'] },
        filesystem: { provider: 1, s3config: { bucket: 'c' } },
      },
      { existing: stored },
    );
    assert.equal(merged.quota_files, 9);
    assert.equal(merged.quota_size, 10);
    assert.equal(
      merged.password,
      '',
      'an empty password tells the provider to keep the stored hash',
    );
    assert.deepEqual(merged.filters, { allowed_ip: ['10.0.0.0/8'], denied_ip: ['10.1.0.0/16'] });
    assert.equal(merged.filesystem.s3config?.bucket, 'c');
    assert.equal(merged.filesystem.s3config?.access_secret, 'enc:secret');
  });

  it('forgets the S3 settings when the user moves to the local filesystem', () => {
    const merged = mergeUserInput({ filesystem: { provider: 0 } }, { existing: stored });
    assert.deepEqual(merged.filesystem, { provider: 0 });
  });

  it('fills defaults on create and derives the home from users_base_dir', () => {
    const merged = mergeUserInput({ username: 'new', password: 'p' }, { usersBaseDir: '/homes' });
    assert.equal(merged.home_dir, '/homes/new');
    assert.equal(merged.status, 1);
    assert.deepEqual(merged.filters, { allowed_ip: [], denied_ip: [] });
    assert.equal(
      mergeUserInput({ username: 'x', home_dir: '/own' }, { usersBaseDir: '/homes' }).home_dir,
      '/own',
    );
    assert.equal(mergeUserInput({ username: 'y' }, {}).home_dir, '');
  });
});
