import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addFinalizerPatch, removeFinalizerPatch } from './finalizer.js';

const object = (finalizers?: string[]) => ({
  metadata: {
    name: 'a',
    namespace: 'n',
    resourceVersion: '42',
    ...(finalizers ? { finalizers } : {}),
  },
});

describe('finalizer patches', () => {
  it('add the finalizer testing the list they saw, or the resourceVersion when there was none', () => {
    assert.deepEqual(addFinalizerPatch(object()), [
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'add', path: '/metadata/finalizers', value: ['kubesftp.io/account'] },
    ]);
    assert.deepEqual(addFinalizerPatch(object(['other/x'])), [
      { op: 'test', path: '/metadata/finalizers', value: ['other/x'] },
      { op: 'add', path: '/metadata/finalizers/-', value: 'kubesftp.io/account' },
    ]);
  });

  it('remove only the finalizer, at the index it was seen, and nothing when it is absent', () => {
    assert.deepEqual(removeFinalizerPatch(object(['other/x', 'kubesftp.io/account'])), [
      { op: 'test', path: '/metadata/finalizers/1', value: 'kubesftp.io/account' },
      { op: 'remove', path: '/metadata/finalizers/1' },
    ]);
    assert.deepEqual(removeFinalizerPatch(object(['other/x'])), []);
  });
});
