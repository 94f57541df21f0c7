import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { USAGE_REFRESH_MS, UsageReports } from './status.js';

const usage = (sizeBytes: number, files = 1): { sizeBytes: number; files: number } => ({
  sizeBytes,
  files,
});

describe('UsageReports', () => {
  it('reports the first usage at once, then at most once a minute per user', () => {
    const reports = new UsageReports();
    const t0 = 1_000_000;
    assert.deepEqual(reports.choose('ns/a', undefined, usage(10), t0), usage(10));
    // Changed 5 s later: the status keeps the reported value.
    assert.deepEqual(reports.choose('ns/a', usage(10), usage(20), t0 + 5_000), usage(10));
    // Another user has its own minute.
    assert.deepEqual(reports.choose('ns/b', usage(1), usage(2), t0 + 5_000), usage(2));
    assert.deepEqual(
      reports.choose('ns/a', usage(10), usage(30), t0 + USAGE_REFRESH_MS),
      usage(30),
    );
  });

  it('keeps what it reported while the cached status still shows an older value', () => {
    const reports = new UsageReports();
    reports.choose('ns/a', usage(10), usage(20), 0);
    assert.deepEqual(reports.choose('ns/a', usage(10), usage(25), 1_000), usage(20));
  });

  it('never changes an equal usage, and starts over for a user it forgot', () => {
    const reports = new UsageReports();
    const same = usage(7, 3);
    assert.equal(reports.choose('ns/a', same, usage(7, 3), 0), same);
    reports.choose('ns/a', usage(1), usage(2), 0);
    reports.forget('ns/a');
    assert.deepEqual(reports.choose('ns/a', usage(2), usage(3), 1), usage(3));
  });
});
