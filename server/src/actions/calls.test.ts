import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { User } from '../dataprovider/types.js';
import { newUser } from '../dataprovider/test-support.js';
import { fileActionCall, storagePath, userActionCall } from './calls.js';

function stored(overrides: Partial<User> = {}): User {
  return {
    ...newUser({ home_dir: '/srv/sftp/alice', uid: 1001, gid: 1002 }),
    id: 7,
    used_quota_size: 0,
    used_quota_files: 0,
    last_quota_update: 0,
    last_login: 0,
    ...overrides,
  };
}

const s3User = stored({
  filesystem: {
    provider: 1,
    s3config: {
      bucket: 'files',
      region: 'us-east-1',
      access_key: 'AKIA',
      access_secret: 'sealed-secret-value',
      endpoint: 'http://127.0.0.1:9000',
      storage_class: '',
      key_prefix: 'tenants/alice',
    },
  },
});

test('paths are the file-system path of a local home and s3://bucket/key of an S3 one', () => {
  assert.deepEqual(storagePath(stored(), '/a/b.txt'), {
    path: '/srv/sftp/alice/a/b.txt',
    local: true,
  });
  assert.deepEqual(storagePath(stored(), '/'), { path: '/srv/sftp/alice', local: true });
  assert.deepEqual(storagePath(stored(), ''), { path: '', local: true });
  assert.deepEqual(storagePath(s3User, '/a/b.txt'), {
    path: 's3://files/tenants/alice/a/b.txt',
    local: false,
  });
});

test('an upload passes action, user, path, empty target and command, and its size', () => {
  const call = fileActionCall({
    action: 'upload',
    user: stored(),
    virtualPath: '/in/report 1.csv',
    size: 1234,
  });
  assert.deepEqual(call.args, ['upload', 'alice', '/srv/sftp/alice/in/report 1.csv', '', '']);
  assert.deepEqual(call.env, {
    SFTPGO_ACTION: 'upload',
    SFTPGO_ACTION_USERNAME: 'alice',
    SFTPGO_ACTION_PATH: '/srv/sftp/alice/in/report 1.csv',
    SFTPGO_ACTION_TARGET: '',
    SFTPGO_ACTION_SSH_CMD: '',
    SFTPGO_ACTION_FILE_SIZE: '1234',
    SFTPGO_ACTION_LOCAL_FILE: 'true',
  });
  assert.deepEqual(call.query, {
    action: 'upload',
    username: 'alice',
    path: '/srv/sftp/alice/in/report 1.csv',
    local_file: 'true',
    file_size: '1234',
  });
  assert.equal(call.body, undefined);
});

test('a rename adds its target; ssh_cmd its command; neither has a size', () => {
  const rename = fileActionCall({
    action: 'rename',
    user: s3User,
    virtualPath: '/a',
    targetPath: '/b',
  });
  assert.deepEqual(rename.args, [
    'rename',
    'alice',
    's3://files/tenants/alice/a',
    's3://files/tenants/alice/b',
    '',
  ]);
  assert.equal(rename.query.target_path, 's3://files/tenants/alice/b');
  assert.equal(rename.query.local_file, 'false');
  assert.equal(rename.env.SFTPGO_ACTION_FILE_SIZE, '');
  assert.equal('file_size' in rename.query, false);
  const cmd = fileActionCall({
    action: 'ssh_cmd',
    user: stored(),
    virtualPath: '',
    sshCommand: 'pwd',
  });
  assert.deepEqual(cmd.args, ['ssh_cmd', 'alice', '', '', 'pwd']);
  assert.deepEqual(cmd.query, {
    action: 'ssh_cmd',
    username: 'alice',
    path: '',
    local_file: 'true',
    ssh_cmd: 'pwd',
  });
});

test('a user action passes the account fields and its JSON without password hash or S3 secret', () => {
  const withHash = { ...s3User, password: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA' };
  const call = userActionCall('update', withHash);
  assert.deepEqual(call.args, [
    'update',
    'alice',
    '7',
    '1',
    '0',
    '/srv/sftp/alice',
    '1001',
    '1002',
  ]);
  assert.deepEqual(call.env, {
    SFTPGO_USER_ACTION: 'update',
    SFTPGO_USER_USERNAME: 'alice',
    SFTPGO_USER_ID: '7',
    SFTPGO_USER_STATUS: '1',
    SFTPGO_USER_EXPIRATION_DATE: '0',
    SFTPGO_USER_HOME_DIR: '/srv/sftp/alice',
    SFTPGO_USER_UID: '1001',
    SFTPGO_USER_GID: '1002',
  });
  assert.deepEqual(call.query, { action: 'update' });
  const body = call.body ?? '';
  assert.doesNotMatch(body, /argon2id|sealed-secret-value|access_secret|"password"/);
  const json = JSON.parse(body) as Record<string, unknown>;
  assert.equal(json.username, 'alice');
  assert.equal(json.id, 7);
  assert.deepEqual(json.permissions, { '/': ['*'] });
  assert.deepEqual(json.filesystem, {
    provider: 1,
    s3config: {
      bucket: 'files',
      region: 'us-east-1',
      access_key: 'AKIA',
      endpoint: 'http://127.0.0.1:9000',
      storage_class: '',
      key_prefix: 'tenants/alice',
    },
  });
  assert.equal(withHash.password.startsWith('$argon2id'), true, 'the account itself is unchanged');
});
