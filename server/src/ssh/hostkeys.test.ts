import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { isKubesftpError, ErrorCode } from '../errors.js';
import { loadOrCreateHostKeys } from './hostkeys.js';

const run = promisify(execFile);

describe('loadOrCreateHostKeys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kubesftp-hostkeys-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('generates the missing default keys once and reuses them on restart', async () => {
    const logged: Record<string, unknown>[] = [];
    const logger = { info: (fields: Record<string, unknown>) => logged.push(fields) };
    const opts = { configDir: dir, keys: [], types: ['ed25519', 'rsa', 'ecdsa'] as const };
    const first = await loadOrCreateHostKeys({ ...opts, types: [...opts.types], logger });
    assert.deepEqual(
      first.map((k) => [path.basename(k.path), k.type]),
      [
        ['id_ed25519', 'ssh-ed25519'],
        ['id_rsa', 'ssh-rsa'],
        ['id_ecdsa', 'ecdsa-sha2-nistp256'],
      ],
    );
    assert.equal(logged.length, 3);
    for (const key of first) {
      assert.equal((await stat(key.path)).mode & 0o777, 0o600);
      assert.ok((await readFile(key.path)).equals(key.key));
    }
    const second = await loadOrCreateHostKeys({ ...opts, types: [...opts.types], logger });
    assert.deepEqual(
      second.map((k) => k.fingerprint),
      first.map((k) => k.fingerprint),
    );
    assert.equal(logged.length, 3, 'nothing generated on restart');
  });

  it('reports the fingerprint ssh-keygen prints, and a 3072-bit RSA key', async () => {
    const keys = await loadOrCreateHostKeys({
      configDir: dir,
      keys: [],
      types: ['rsa', 'ed25519'],
    });
    for (const key of keys) {
      const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', key.path]);
      const [bits, fingerprint] = stdout.trim().split(/\s+/);
      assert.equal(fingerprint, key.fingerprint);
      if (key.type === 'ssh-rsa') assert.equal(bits, '3072');
    }
  });

  it('loads configured keys relative to the config dir', async () => {
    const made = path.join(dir, 'custom_key');
    await run('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '521', '-N', '', '-f', made]);
    const [key] = await loadOrCreateHostKeys({
      configDir: dir,
      keys: [{ private_key: 'custom_key' }],
      types: ['ed25519'],
    });
    assert.equal(key?.path, made);
    assert.equal(key?.type, 'ecdsa-sha2-nistp521');
  });

  const badKeys: { name: string; contents?: string; reason: RegExp }[] = [
    { name: 'missing_key', reason: /ENOENT/ },
    { name: 'garbage_key', contents: 'not a key\n', reason: /Unsupported key format/ },
    {
      name: 'encrypted_key',
      contents: ssh2.utils.generateKeyPairSync('ecdsa', {
        bits: 256,
        passphrase: 'x',
        cipher: 'aes256-ctr',
      }).private,
      reason: /passphrase/,
    },
    {
      name: 'public_key',
      contents: ssh2.utils.generateKeyPairSync('ed25519').public,
      reason: /not a private key/,
    },
  ];
  for (const bad of badKeys) {
    it(`fails with CONFIG_INVALID naming ${bad.name}`, async () => {
      if (bad.contents !== undefined) await writeFile(path.join(dir, bad.name), bad.contents);
      await assert.rejects(
        loadOrCreateHostKeys({ configDir: dir, keys: [{ private_key: bad.name }], types: [] }),
        (err: unknown) => {
          assert.ok(isKubesftpError(err, ErrorCode.CONFIG_INVALID));
          assert.ok(err.message.includes(path.join(dir, bad.name)), err.message);
          assert.match(err.message, bad.reason);
          return true;
        },
      );
    });
  }

  it('generates keys of mode 0600 whatever the umask', async () => {
    const previous = process.umask();
    try {
      for (const umask of [0, 0o277]) {
        const configDir = await mkdtemp(path.join(dir, 'umask-'));
        process.umask(umask);
        const [key] = await loadOrCreateHostKeys({ configDir, keys: [], types: ['ed25519'] });
        process.umask(previous);
        assert.equal((await stat(key!.path)).mode & 0o777, 0o600, `umask ${umask.toString(8)}`);
        assert.deepEqual(await readdir(configDir), ['id_ed25519'], 'no temporary file is left');
      }
    } finally {
      process.umask(previous);
    }
  });

  it('refuses a private key others can access or its group can write, naming the fix', async () => {
    const keyPath = path.join(dir, 'exposed_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
    const load = () =>
      loadOrCreateHostKeys({ configDir: dir, keys: [{ private_key: 'exposed_key' }], types: [] });
    for (const mode of [0o644, 0o604, 0o660]) {
      await chmod(keyPath, mode);
      await assert.rejects(load(), (err: unknown) => {
        assert.ok(isKubesftpError(err, ErrorCode.CONFIG_INVALID), mode.toString(8));
        assert.ok(err.message.startsWith(`sftpd.keys: the private host key ${keyPath} `));
        assert.ok(err.message.includes(`chmod 600 ${keyPath}`), err.message);
        return true;
      });
    }
    // Group-readable, as a Secret mounted with an fsGroup is, through a symlink as in a volume.
    await chmod(keyPath, 0o640);
    await symlink(keyPath, path.join(dir, 'linked_key'));
    const [linked] = await loadOrCreateHostKeys({
      configDir: dir,
      keys: [{ private_key: 'linked_key' }],
      types: [],
    });
    assert.equal(linked?.type, 'ssh-ed25519');
  });

  it('fails clearly when a missing key cannot be created', async () => {
    const readOnly = path.join(dir, 'read-only');
    await run('mkdir', [readOnly]);
    await chmod(readOnly, 0o500);
    if (process.getuid?.() === 0) {
      // root ignores directory permissions, so point at a path under a regular file instead.
      await writeFile(path.join(readOnly, 'file'), '');
    }
    const configDir = process.getuid?.() === 0 ? path.join(readOnly, 'file') : readOnly;
    await assert.rejects(
      loadOrCreateHostKeys({ configDir, keys: [], types: ['ed25519'] }),
      (err: unknown) =>
        isKubesftpError(err, ErrorCode.CONFIG_INVALID) && /id_ed25519/.test(err.message),
    );
  });
});
