import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { assertWorkersFitProvider, cpusFromCpuMax, workerCount } from './count.js';
import { respawnDelayMs } from './pool.js';

describe('cgroup v2 cpu.max', () => {
  test('gives the quota in CPUs, rounded up', () => {
    assert.equal(cpusFromCpuMax('200000 100000\n'), 2);
    assert.equal(cpusFromCpuMax('150000 100000'), 2);
    assert.equal(cpusFromCpuMax('50000 100000'), 1);
    assert.equal(cpusFromCpuMax('400000 50000'), 8);
    assert.equal(cpusFromCpuMax('300000'), 3, 'the period defaults to 100000');
  });

  test('has no quota for "max", and none for text that is not one', () => {
    assert.equal(cpusFromCpuMax('max 100000\n'), undefined);
    assert.equal(cpusFromCpuMax('max'), undefined);
    assert.equal(cpusFromCpuMax(''), undefined);
    assert.equal(cpusFromCpuMax('0 100000'), undefined);
    assert.equal(cpusFromCpuMax('100000 0'), undefined);
    assert.equal(cpusFromCpuMax('two cpus'), undefined);
  });
});

describe('worker count', () => {
  test('is the configured number when not 0', () => {
    assert.equal(workerCount(1, { cpuMax: '400000 100000', parallelism: 8 }), 1);
    assert.equal(workerCount(3, { cpuMax: undefined, parallelism: 2 }), 3);
  });

  test('with 0, follows the quota, bounded by the usable CPUs, at least 1', () => {
    assert.equal(workerCount(0, { cpuMax: '250000 100000', parallelism: 8 }), 3);
    assert.equal(workerCount(0, { cpuMax: '800000 100000', parallelism: 2 }), 2);
    assert.equal(workerCount(0, { cpuMax: 'max 100000', parallelism: 4 }), 4);
    assert.equal(workerCount(0, { cpuMax: undefined, parallelism: 2 }), 2);
    assert.equal(workerCount(0, { cpuMax: '10000 100000', parallelism: 1 }), 1);
  });

  test('above 1 refuses the memory driver, which one process owns', () => {
    assert.throws(
      () => assertWorkersFitProvider(2, 'memory'),
      (err) => isKubesftpError(err, ErrorCode.CONFIG_INVALID) && /sftpd\.workers/.test(err.message),
    );
    assertWorkersFitProvider(1, 'memory');
    assertWorkersFitProvider(4, 'sqlite');
  });
});

test('a worker crashing again is forked again after a growing, bounded delay', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 10].map(respawnDelayMs), [0, 1000, 2000, 4000, 8000, 30000]);
});
