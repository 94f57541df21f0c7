import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { networkOptions } from './network-options.js';
import { bindDollar, bindQuestion } from './sql-params.js';

describe('named SQL parameters', () => {
  const sql = 'UPDATE t SET a = @a WHERE b = @b AND (@a = 1 OR c <> @b)';

  it('become $n for PostgreSQL, one number per name', () => {
    assert.deepEqual(bindDollar(sql, { a: 1, b: "x'; DROP TABLE t; --" }), {
      text: 'UPDATE t SET a = $1 WHERE b = $2 AND ($1 = 1 OR c <> $2)',
      values: [1, "x'; DROP TABLE t; --"],
    });
  });

  it('become ? for MySQL, one value per occurrence', () => {
    assert.deepEqual(bindQuestion(sql, { a: 1, b: 'x' }), {
      text: 'UPDATE t SET a = ? WHERE b = ? AND (? = 1 OR c <> ?)',
      values: [1, 'x', 1, 'x'],
    });
  });

  it('refuse a placeholder without a value rather than send NULL', () => {
    assert.throws(() => bindDollar(sql, { a: 1 }), /@b has no value/);
    assert.throws(() => bindQuestion(sql, { b: 1 }), /@a has no value/);
  });
});

describe('database server settings', () => {
  const base = { name: 'kubesftp', configDir: '/' };

  it('fill the port of each driver and name the key of what is missing', () => {
    const pg = networkOptions({
      ...base,
      driver: 'postgresql',
      network: { host: 'db', username: 'u' },
    });
    assert.equal(pg.port, 5432);
    const my = networkOptions({ ...base, driver: 'mysql', network: { host: 'db', username: 'u' } });
    assert.equal(my.port, 3306);
    for (const [network, key] of [
      [{ username: 'u' }, 'host'],
      [{ host: 'db' }, 'username'],
    ] as const) {
      assert.throws(
        () => networkOptions({ ...base, driver: 'postgresql', network }),
        (err) =>
          isKubesftpError(err, ErrorCode.CONFIG_INVALID) &&
          err.message.startsWith(`data_provider.${key}: `),
      );
    }
    assert.throws(
      () =>
        networkOptions({
          ...base,
          name: '',
          driver: 'mysql',
          network: { host: 'db', username: 'u' },
        }),
      /^KubesftpError: data_provider\.name: /,
    );
    assert.equal(
      networkOptions({ ...base, driver: 'mysql', network: { connectionString: 'mysql://u@db/x' } })
        .connectionString,
      'mysql://u@db/x',
    );
  });
});
