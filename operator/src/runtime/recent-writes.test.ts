import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../api/objects.js';
import { RECENT_WRITE_TTL_MS, RecentWrites } from './recent-writes.js';

const version = (resourceVersion: string, extra: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'alice', namespace: 'apps', resourceVersion },
  ...extra,
});

describe('RecentWrites', () => {
  it('shows the written object while the cache holds a version it replaced', () => {
    const recent = new RecentWrites<KubeObject>();
    const read = version('1');
    const finalized = version('2', { finalizers: true });
    const withStatus = version('3', { status: true });
    recent.wrote(finalized, read);
    recent.wrote(withStatus, read);
    assert.equal(recent.newest('apps', 'alice', read), withStatus);
    // The watch brings the finalizer's version: still older than the status write.
    recent.observed(finalized, false);
    assert.equal(recent.newest('apps', 'alice', finalized), withStatus);
    // Then the status write itself: the cache has caught up, the record is dropped.
    recent.observed(withStatus, false);
    assert.equal(recent.size, 0);
    assert.equal(recent.newest('apps', 'alice', withStatus), withStatus);
  });

  it('yields to a version it does not know: someone wrote after this process', () => {
    const recent = new RecentWrites<KubeObject>();
    recent.wrote(version('2'), version('1'));
    const edited = version('9');
    assert.equal(recent.newest('apps', 'alice', edited), edited);
    assert.equal(recent.size, 0);
  });

  it('shows a created object the cache has not seen, until it is deleted or too old', () => {
    let now = 0;
    const recent = new RecentWrites<KubeObject>(() => now);
    const created = version('5');
    recent.wrote(created, undefined);
    assert.equal(recent.newest('apps', 'alice', undefined), created);
    recent.observed(created, true);
    assert.equal(recent.newest('apps', 'alice', undefined), undefined);
    recent.wrote(created, undefined);
    now = RECENT_WRITE_TTL_MS;
    assert.equal(recent.newest('apps', 'alice', undefined), undefined);
    assert.equal(recent.size, 0);
  });

  it('has nothing to show when the watch brought the write before its response', () => {
    const recent = new RecentWrites<KubeObject>();
    const written = version('2');
    recent.wrote(written, written);
    assert.equal(recent.newest('apps', 'alice', written), written);
    assert.equal(recent.size, 0);
  });
});
