// ssh2 writes generated ed25519 keys in OpenSSH format. Unpatched, it stripped every leading
// zero byte of the public key instead of only the BIT STRING's unused-bits byte, so about one
// key in 256 came out truncated and unreadable. Host keys are generated this way on first start.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';

const run = promisify(execFile);

describe('generated ed25519 keys', () => {
  it('parse back, every one of 3000 (a truncated key appears in about 1 of 256)', () => {
    const unreadable: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const pair = ssh2.utils.generateKeyPairSync('ed25519');
      const parsed = ssh2.utils.parseKey(pair.private);
      if (parsed instanceof Error) unreadable.push(parsed.message);
    }
    assert.deepEqual(unreadable, []);
  });

  it('are read by the real ssh-keygen, which derives the same public key', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kubesftp-keygen-'));
    try {
      for (let i = 0; i < 5; i++) {
        const pair = ssh2.utils.generateKeyPairSync('ed25519');
        const file = path.join(dir, `key${i}`);
        await writeFile(file, pair.private, { mode: 0o600 });
        const { stdout } = await run('ssh-keygen', ['-y', '-f', file]);
        assert.equal(
          stdout.trim().split(' ').slice(0, 2).join(' '),
          pair.public.trim().split(' ').slice(0, 2).join(' '),
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
