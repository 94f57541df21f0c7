import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newUser } from '../dataprovider/test-support.js';
import type { User } from '../dataprovider/types.js';
import { isKubesftpError } from '../errors.js';
import { checkLoginAllowed } from './login.js';

function user(overrides: Partial<User> = {}): User {
  return {
    ...newUser({ home_dir: '/srv/alice' }),
    id: 1,
    used_quota_size: 0,
    used_quota_files: 0,
    last_quota_update: 0,
    last_login: 0,
    ...overrides,
  };
}

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isKubesftpError(err, 'PERMISSION_DENIED'));
    return err.message;
  }
  assert.fail('login was allowed');
}

test('an active, unexpired user without filters may log in from anywhere', () => {
  checkLoginAllowed(user(), '127.0.0.1');
  checkLoginAllowed(user(), '::1');
  checkLoginAllowed(user({ expiration_date: Date.now() + 60_000 }), '::ffff:10.1.2.3');
});

test('disabled and expired users are refused', () => {
  assert.match(
    refusal(() => checkLoginAllowed(user({ status: 0 }), '127.0.0.1')),
    /disabled/,
  );
  assert.match(
    refusal(() => checkLoginAllowed(user({ expiration_date: Date.now() - 1 }), '127.0.0.1')),
    /expired/,
  );
});

test('IP filters: allowed ranges admit, denied ranges win, mapped IPv4 is matched as IPv4', () => {
  const filtered = user({
    filters: { allowed_ip: ['127.0.0.0/8', '2001:db8::/32'], denied_ip: ['127.0.0.2/32'] },
  });
  checkLoginAllowed(filtered, '127.0.0.1');
  checkLoginAllowed(filtered, '::ffff:127.0.0.9');
  checkLoginAllowed(filtered, '2001:db8::5');
  assert.match(
    refusal(() => checkLoginAllowed(filtered, '127.0.0.2')),
    /denied/,
  );
  assert.match(
    refusal(() => checkLoginAllowed(filtered, '192.0.2.1')),
    /not allowed/,
  );
  assert.match(
    refusal(() => checkLoginAllowed(filtered, '::1')),
    /not allowed/,
  );
});
