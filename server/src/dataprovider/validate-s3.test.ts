import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FsProvider, type NewUser } from './account-schema.js';
import { newUser } from './test-support.js';
import { validateUser } from './validate.js';

const s3Account = (keys: { access_key: string; access_secret: string }): NewUser =>
  newUser({
    password: '$pbkdf2-sha256$1000$salt$AAAA',
    filesystem: {
      provider: FsProvider.s3,
      s3config: {
        bucket: 'homes',
        region: 'us-east-1',
        endpoint: '',
        storage_class: '',
        key_prefix: 'alice/',
        ...keys,
      },
    },
  });

void describe('S3 account keys', () => {
  void it('accepts both keys, or neither (the server then uses its own credentials)', () => {
    validateUser(s3Account({ access_key: 'AKIA1', access_secret: 'secret' }));
    validateUser(s3Account({ access_key: '', access_secret: '' }));
  });

  void it('refuses one key without the other', () => {
    for (const keys of [
      { access_key: 'AKIA1', access_secret: '' },
      { access_key: '', access_secret: 'secret' },
    ]) {
      assert.throws(() => validateUser(s3Account(keys)), /set both, or neither/);
    }
  });
});
