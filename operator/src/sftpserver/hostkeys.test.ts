import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadOrCreateHostKeys } from '../../../server/src/ssh/hostkeys.js';
import { HOST_KEY_FILES, describeHostKey, generateHostKeys, knownHostsLine } from './hostkeys.js';

describe('host keys made with node:crypto', () => {
  it('are read by the server with the fingerprints the operator reports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubesftp-hostkeys-'));
    try {
      const keys = await generateHostKeys();
      assert.deepEqual(Object.keys(keys).sort(), Object.values(HOST_KEY_FILES).sort());
      for (const [file, pem] of Object.entries(keys))
        writeFileSync(join(dir, file), pem, { mode: 0o600 });
      const loaded = await loadOrCreateHostKeys({
        configDir: dir,
        keys: Object.keys(keys).map((file) => ({ private_key: file })),
        types: [],
      });
      const byServer = Object.fromEntries(loaded.map((key) => [key.type, key.fingerprint]));
      const byOperator = Object.fromEntries(
        Object.values(keys).map((pem) => {
          const described = describeHostKey(pem);
          return [described.type, described.fingerprint];
        }),
      );
      assert.deepEqual(byOperator, byServer);
      assert.deepEqual(Object.keys(byServer).sort(), [
        'ecdsa-sha2-nistp256',
        'ssh-ed25519',
        'ssh-rsa',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('agree with ssh-keygen on keys it wrote, and refuse an encrypted one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubesftp-hostkeys-'));
    try {
      for (const type of ['ed25519', 'ecdsa', 'rsa']) {
        const file = join(dir, type);
        execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', file]);
        const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], {
          encoding: 'utf8',
        });
        const described = describeHostKey(readFileSync(file, 'utf8'));
        assert.equal(printed.split(' ')[1], described.fingerprint, type);
        assert.equal(
          described.publicKey,
          readFileSync(`${file}.pub`, 'utf8').split(' ').slice(0, 2).join(' '),
        );
      }
      const locked = join(dir, 'locked');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'passphrase', '-f', locked]);
      assert.throws(() => describeHostKey(readFileSync(locked, 'utf8')), /encrypted/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes known_hosts lines with the port only when it is not 22', () => {
    const key = { type: 'ssh-ed25519', fingerprint: 'SHA256:x', publicKey: 'ssh-ed25519 AAAA' };
    assert.equal(knownHostsLine('sftp.ns.svc', 22, key), 'sftp.ns.svc ssh-ed25519 AAAA');
    assert.equal(knownHostsLine('203.0.113.7', 2222, key), '[203.0.113.7]:2222 ssh-ed25519 AAAA');
  });
});
