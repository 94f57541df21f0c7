import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { User } from '../../../server/src/dataprovider/account-schema.js';
import type { SftpUser } from '../api/objects.js';
import { WrittenPasswords } from './sync.js';

const user = (uid = 'u1'): SftpUser => ({
  metadata: { name: 'alice', namespace: 'tenants', uid },
  spec: { serverRef: { name: 'sftp' }, password: { generate: true } },
});

const source = {
  plain: 'secret',
  secretName: 'alice-credentials',
  resourceVersion: '7',
  generated: true,
};

describe('WrittenPasswords', () => {
  it('knows a hash it wrote from a given Secret version, and nothing else', () => {
    const written = new WrittenPasswords();
    written.remember(user(), { password: '$hash-a' } as User, source);
    assert.equal(written.wrote(user(), '$hash-a', source), true);
    assert.equal(written.wrote(user(), '$hash-b', source), false, 'changed in the database');
    assert.equal(
      written.wrote(user(), '$hash-a', { ...source, resourceVersion: '8' }),
      false,
      'the Secret changed since',
    );
    assert.equal(written.wrote(user('u2'), '$hash-a', source), false, 'a new SftpUser, same name');
    written.forget('tenants/alice');
    assert.equal(written.wrote(user(), '$hash-a', source), false);
  });

  it('records nothing for an account without a password', () => {
    const written = new WrittenPasswords();
    written.remember(user(), { password: '$hash-a' } as User, undefined);
    assert.equal(written.wrote(user(), '$hash-a', source), false);
  });
});
