import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { UserReplySchema } from './account-schema.js';
import { userReplySchema } from './account-validators.generated.js';
import { declaredOnly } from './declared-only.js';

const stored = {
  id: 7,
  username: 'alice',
  password: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
  public_keys: ['ssh-ed25519 AAAA alice@host'],
  status: 1,
  expiration_date: 0,
  home_dir: '/srv/alice',
  uid: 1000,
  gid: 1000,
  max_sessions: 2,
  quota_size: 0,
  quota_files: 0,
  permissions: { '/': ['*'], '/in': ['list', 'upload'] },
  upload_bandwidth: 0,
  download_bandwidth: 0,
  filters: { allowed_ip: ['192.0.2.0/24'], denied_ip: [], stray: 'filters' },
  filesystem: {
    provider: 1,
    s3config: {
      bucket: 'b',
      region: 'r',
      access_key: 'k',
      access_secret: 'sealed-secret-value',
      endpoint: '',
      storage_class: '',
      key_prefix: 'alice/',
      future_secret: 'also-undeclared',
    },
  },
  used_quota_size: 0,
  used_quota_files: 0,
  last_quota_update: 0,
  last_login: 0,
  managed_by: '',
  stray_top: 'undeclared',
};

test('declaredOnly keeps what TypeBox Value.Clean keeps, at every depth, and copies', () => {
  const before = structuredClone(stored);
  const kept = declaredOnly(userReplySchema, stored);
  assert.deepEqual(kept, Value.Clean(UserReplySchema, structuredClone(stored)));
  assert.doesNotMatch(JSON.stringify(kept), /argon2id|sealed-secret|also-undeclared|stray/);
  assert.deepEqual(stored, before, 'the input is left as it was');
});
