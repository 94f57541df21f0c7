import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { createDataProvider } from './index.js';
import { NO_MASTER_KEY, isSealed, secretBoxFor } from './secret-box.js';
import { newUser } from './test-support.js';

function keeper(): { getOrCreateSecret(name: string, create: () => string): Promise<string> } {
  const kept = new Map<string, string>();
  return {
    getOrCreateSecret(name, create) {
      if (!kept.has(name)) kept.set(name, create());
      return Promise.resolve(kept.get(name)!);
    },
  };
}

const failsWith = (code: ErrorCode, pattern: RegExp) => (err: unknown) => {
  assert.ok(isKubesftpError(err, code), String(err));
  assert.match(err.message, pattern);
  return true;
};

describe('secret box', () => {
  it('seals with a fresh IV each time and opens what it sealed', async () => {
    const box = secretBoxFor(
      { masterKeyFile: '', masterKey: 'a master key of some length' },
      keeper(),
    );
    const one = await box.seal('s3 secret');
    const two = await box.seal('s3 secret');
    assert.ok(isSealed(one) && isSealed(two));
    assert.notEqual(one, two);
    assert.doesNotMatch(one, /s3 secret/);
    assert.equal(await box.open(one), 's3 secret');
    assert.equal(await box.open('stored before sealing'), 'stored before sealing');
  });

  it('says so when a value was sealed with another key or altered', async () => {
    const sealed = await secretBoxFor(
      { masterKeyFile: '', masterKey: 'the first master key' },
      keeper(),
    ).seal('x');
    const other = secretBoxFor({ masterKeyFile: '', masterKey: 'the second master key' }, keeper());
    await assert.rejects(
      other.open(sealed),
      failsWith(ErrorCode.FAILURE, /sealed with key \w+ but this server holds key/),
    );
    await assert.rejects(
      other.sealIfClear(sealed),
      failsWith(ErrorCode.INVALID_ARGUMENT, /access_secret/),
    );
    const same = secretBoxFor({ masterKeyFile: '', masterKey: 'the first master key' }, keeper());
    const altered = `${sealed.slice(0, -4)}AAAA`;
    await assert.rejects(same.open(altered), failsWith(ErrorCode.FAILURE, /altered/));
  });

  it('reads the key from a private file, refuses an exposed one, and shares the provider key', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'kubesftp-secrets-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'master.key');
    await writeFile(file, 'a key kept in a file\n', { mode: 0o600 });
    const fromFile = secretBoxFor({ masterKeyFile: file, masterKey: '' }, keeper());
    const fromText = secretBoxFor(
      { masterKeyFile: '', masterKey: 'a key kept in a file' },
      keeper(),
    );
    assert.equal(
      await fromText.open(await fromFile.seal('v')),
      'v',
      'whitespace around the key is ignored',
    );
    await chmod(file, 0o644);
    const exposed = secretBoxFor({ masterKeyFile: file, masterKey: '' }, keeper());
    await assert.rejects(
      exposed.seal('v'),
      failsWith(ErrorCode.CONFIG_INVALID, /master_key_file.*0644/),
    );
    const short = secretBoxFor({ masterKeyFile: '', masterKey: 'short' }, keeper());
    await assert.rejects(short.seal('v'), failsWith(ErrorCode.CONFIG_INVALID, /at least 16/));
    const shared = keeper();
    const sealed = await secretBoxFor(NO_MASTER_KEY, shared).seal('v');
    assert.equal(await secretBoxFor(NO_MASTER_KEY, shared).open(sealed), 'v');
  });

  it('is what the provider stores for an S3 account, whatever the driver', async () => {
    const provider = await createDataProvider({ driver: 'memory', name: '', configDir: '.' });
    await provider.initialize();
    const user = await provider.addUser(
      newUser({
        username: 's3user',
        password: 'pw-s3user-1',
        filesystem: {
          provider: 1,
          s3config: {
            bucket: 'b',
            region: 'r',
            access_key: 'ak',
            access_secret: 'the clear secret',
            endpoint: '',
            storage_class: '',
            key_prefix: '',
          },
        },
      }),
    );
    const stored = user.filesystem.s3config!.access_secret;
    assert.ok(isSealed(stored), stored);
    assert.equal(await secretBoxFor(NO_MASTER_KEY, provider).open(stored), 'the clear secret');
    await provider.close();
  });
});
