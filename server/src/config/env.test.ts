import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { applyEnvOverrides } from './env.js';
import { configLeaves, envNameFor } from './leaves.js';
import { validateConfig } from './validate.js';

function fromEnv(env: Record<string, string>): Record<string, unknown> {
  const tree: Record<string, unknown> = {};
  applyEnvOverrides(tree, env);
  return tree;
}

test('env names are the prefix plus upper-cased path joined by __', () => {
  assert.equal(envNameFor(['sftpd', 'bind_port']), 'KUBESFTP_SFTPD__BIND_PORT');
  const names = configLeaves().map((leaf) => leaf.envName);
  assert.ok(names.includes('KUBESFTP_SFTPD__ACTIONS__EXECUTE_ON'));
  assert.ok(names.includes('KUBESFTP_DATA_PROVIDER__CONNECTION_STRING'));
  assert.equal(new Set(names).size, names.length);
});

test('each leaf type is coerced from text', () => {
  const config = validateConfig(
    fromEnv({
      KUBESFTP_SFTPD__BIND_PORT: ' 2222 ',
      KUBESFTP_SFTPD__MAX_AUTH_TRIES: '-1',
      KUBESFTP_SFTPD__ENABLE_SCP: 'TRUE',
      KUBESFTP_SFTPD__BANNER: 'custom_1',
      KUBESFTP_SFTPD__CIPHERS: 'aes128-gcm@openssh.com, chacha20-poly1305@openssh.com',
      KUBESFTP_SFTPD__MACS: '',
      KUBESFTP_SFTPD__ACTIONS__EXECUTE_ON: 'upload,download',
      KUBESFTP_SFTPD__ACTIONS__COMMAND: '/usr/bin/true',
      KUBESFTP_SFTPD__KEYS: '[{"private_key":"id_rsa"},{"private_key":"/k/id_ecdsa"}]',
      KUBESFTP_DATA_PROVIDER__ACTIONS__EXECUTE_ON: 'add',
      KUBESFTP_HTTPD__BIND_ADDRESS: '',
    }),
  );
  assert.equal(config.sftpd.bind_port, 2222);
  assert.equal(config.sftpd.max_auth_tries, -1);
  assert.equal(config.sftpd.enable_scp, true);
  assert.equal(config.sftpd.banner, 'custom_1');
  assert.deepEqual(config.sftpd.ciphers, [
    'aes128-gcm@openssh.com',
    'chacha20-poly1305@openssh.com',
  ]);
  assert.deepEqual(config.sftpd.macs, []);
  assert.deepEqual(config.sftpd.actions, {
    execute_on: ['upload', 'download'],
    command: '/usr/bin/true',
    http_notification_url: '',
  });
  assert.deepEqual(config.sftpd.keys, [{ private_key: 'id_rsa' }, { private_key: '/k/id_ecdsa' }]);
  assert.deepEqual(config.data_provider.actions.execute_on, ['add']);
  assert.equal(config.httpd.bind_address, '');
});

test('booleans accept 1/0/true/false and reject other words at validation', () => {
  for (const [raw, want] of [
    ['1', true],
    ['0', false],
    ['false', false],
    ['True', true],
  ] as const) {
    assert.equal(
      validateConfig(fromEnv({ KUBESFTP_SFTPD__ENABLE_SCP: raw })).sftpd.enable_scp,
      want,
    );
  }
  assert.throws(
    () => validateConfig(fromEnv({ KUBESFTP_SFTPD__ENABLE_SCP: 'yes' })),
    (err) =>
      isKubesftpError(err, ErrorCode.CONFIG_INVALID) &&
      /sftpd\.enable_scp: must be boolean/.test(err.message),
  );
});

test('a keys value that is not JSON names the variable', () => {
  assert.throws(
    () => fromEnv({ KUBESFTP_SFTPD__KEYS: 'id_rsa' }),
    (err) =>
      isKubesftpError(err, ErrorCode.CONFIG_INVALID) && /KUBESFTP_SFTPD__KEYS/.test(err.message),
  );
});

test('CLI variables without __ and foreign variables are left alone', () => {
  assert.deepEqual(fromEnv({ KUBESFTP_CONFIG_DIR: '/etc', HOME: '/root', OTHER__X: '1' }), {});
});
