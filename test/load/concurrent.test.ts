import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateMiBps, concurrentMetric, workersEnv, workersLabel } from './concurrent.js';

describe('concurrent uploads', () => {
  test('aggregate throughput: all bytes from the first start to the last end', () => {
    const spans = [
      { startMs: 1000, endMs: 1500 },
      { startMs: 1100, endMs: 1900 },
      { startMs: 1050, endMs: 2000 },
      { startMs: 1200, endMs: 1300 },
    ];
    assert.equal(aggregateMiBps(spans, 8), 32);
  });

  test('no spans, or no time between them, give no figure rather than infinity', () => {
    assert.ok(Number.isNaN(aggregateMiBps([], 8)));
    assert.ok(Number.isNaN(aggregateMiBps([{ startMs: 5, endMs: 5 }], 8)));
  });

  test('one worker is the server as started, without the setting; more pass sftpd.workers', () => {
    assert.deepEqual(workersEnv(1), {});
    assert.deepEqual(workersEnv(2), { KUBESFTP_SFTPD__WORKERS: '2' });
    assert.equal(workersLabel(1), 'kubesftp as started');
    assert.equal(workersLabel(2), 'kubesftp with sftpd.workers=2');
    assert.notEqual(concurrentMetric(1), concurrentMetric(2));
  });
});
