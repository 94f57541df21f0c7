import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  runCommand,
  sshBaseArgs,
  startServer,
  TEST_USER,
  type RunningServer,
} from '../../../test/ssh2/helpers.js';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { buildAlgorithms, defaultAlgorithms, supportedAlgorithms } from './algorithms.js';

describe('buildAlgorithms', () => {
  it('leaves empty lists to ssh2 defaults', () => {
    assert.deepEqual(buildAlgorithms({ kex_algorithms: [], ciphers: [], macs: [] }), {});
  });

  it('keeps the configured order and drops repeats', () => {
    const algorithms = buildAlgorithms({
      kex_algorithms: ['curve25519-sha256'],
      ciphers: ['aes256-ctr', 'aes128-gcm@openssh.com', 'aes256-ctr'],
      macs: ['hmac-sha2-512'],
    });
    assert.deepEqual(algorithms, {
      kex: ['curve25519-sha256'],
      cipher: ['aes256-ctr', 'aes128-gcm@openssh.com'],
      hmac: ['hmac-sha2-512'],
    });
  });

  it('offers modern defaults', () => {
    for (const name of [
      'aes128-gcm@openssh.com',
      'chacha20-poly1305@openssh.com',
      'aes128-ctr',
      'aes192-ctr',
      'aes256-ctr',
    ]) {
      assert.ok(defaultAlgorithms.cipher.includes(name), name);
    }
    assert.ok(defaultAlgorithms.kex.includes('curve25519-sha256'));
  });

  const invalid = [
    { cfg: { ciphers: ['foo'] }, key: 'sftpd.ciphers', noun: "cipher 'foo'" },
    { cfg: { macs: ['hmac-nope'] }, key: 'sftpd.macs', noun: "MAC 'hmac-nope'" },
    { cfg: { kex_algorithms: ['dh-none'] }, key: 'sftpd.kex_algorithms', noun: "'dh-none'" },
  ];
  for (const { cfg, key, noun } of invalid) {
    it(`names ${key} when a name is unknown`, () => {
      assert.throws(
        () => buildAlgorithms({ kex_algorithms: [], ciphers: [], macs: [], ...cfg }),
        (err: unknown) =>
          isKubesftpError(err, ErrorCode.CONFIG_INVALID) &&
          err.message.startsWith(`${key}: unknown`) &&
          err.message.includes(noun) &&
          err.message.includes('supported: '),
      );
    });
  }

  it('lists only names ssh2 supports', () => {
    assert.ok(supportedAlgorithms.cipher.includes('aes128-gcm@openssh.com'));
    assert.ok(!supportedAlgorithms.cipher.includes('none'));
  });
});

describe('algorithms against the OpenSSH client', () => {
  let defaults: RunningServer;
  let restricted: RunningServer;
  const onReady = (client: import('ssh2').Connection): void => {
    client.on('session', (acceptSession) => {
      acceptSession().on('exec', (acceptExec) => {
        const stream = acceptExec();
        stream.write('ok\n');
        stream.exit(0);
        stream.end();
      });
    });
  };
  const ssh = (port: number, extra: string[]) =>
    runCommand('ssh', [
      ...sshBaseArgs(port),
      '-o',
      'PreferredAuthentications=none',
      ...extra,
      `${TEST_USER}@127.0.0.1`,
      'true',
    ]);

  before(async () => {
    const onAuth = (ctx: import('ssh2').AuthContext) => ctx.method === 'none';
    defaults = await startServer({ onReady, onAuth });
    restricted = await startServer({
      onReady,
      onAuth,
      extra: {
        algorithms: buildAlgorithms({
          kex_algorithms: ['curve25519-sha256'],
          ciphers: ['aes128-gcm@openssh.com'],
          macs: ['hmac-sha2-256-etm@openssh.com'],
        }),
      },
    });
  });
  after(async () => {
    await defaults.close();
    await restricted.close();
  });

  for (const cipher of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes256-ctr']) {
    it(`connects with ${cipher} on the defaults`, async () => {
      const result = await ssh(defaults.port, ['-c', cipher]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'ok\n');
    });
  }

  it('connects with the configured cipher and refuses others', async () => {
    const allowed = await ssh(restricted.port, ['-c', 'aes128-gcm@openssh.com']);
    assert.equal(allowed.code, 0, allowed.stderr);
    const refused = await ssh(restricted.port, ['-c', 'aes256-ctr']);
    assert.equal(refused.code, 255, 'ssh fails when no cipher matches');
  });
});
