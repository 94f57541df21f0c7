import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, KubesftpError } from '../errors.js';
import { AuthenticationError, httpStatusFor, mapError } from './http-errors.js';

describe('HTTP error mapping', () => {
  it('maps core codes to statuses in one table', () => {
    assert.equal(httpStatusFor(ErrorCode.NOT_FOUND), 404);
    assert.equal(httpStatusFor(ErrorCode.CONFLICT), 409);
    assert.equal(httpStatusFor(ErrorCode.INVALID_ARGUMENT), 400);
    assert.equal(httpStatusFor(ErrorCode.PERMISSION_DENIED), 403);
    assert.equal(httpStatusFor(ErrorCode.PROVIDER_UNAVAILABLE), 503);
    assert.equal(httpStatusFor(ErrorCode.RATE_LIMITED), 429);
    assert.equal(httpStatusFor(ErrorCode.QUOTA_EXCEEDED), 500);
  });

  it('keeps the message of a client error and hides the detail of a server error', () => {
    assert.deepEqual(mapError(new KubesftpError(ErrorCode.CONFLICT, 'user alice exists')), {
      status: 409,
      body: { error: 'user alice exists', code: 'CONFLICT' },
    });
    for (const err of [
      new Error('db password=hunter2'),
      new KubesftpError(ErrorCode.FAILURE, 'disk /x broke'),
      'x',
    ]) {
      const mapped = mapError(err);
      assert.equal(mapped.status, 500);
      assert.deepEqual(mapped.body, { error: 'internal server error', code: 'FAILURE' });
    }
  });

  it('answers 401 with the challenge of an authentication failure', () => {
    const mapped = mapError(new AuthenticationError('no token', 'Bearer realm="kubesftp"'));
    assert.equal(mapped.status, 401);
    assert.equal(mapped.challenge, 'Bearer realm="kubesftp"');
  });
});
