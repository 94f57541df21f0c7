import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, containsDesired, sameJson } from './compare.js';

describe('containsDesired', () => {
  it('accepts fields the API server added and refuses a changed or missing one', () => {
    const desired = { spec: { replicas: 2, ports: [{ name: 'sftp', port: 22 }] } };
    const observed = {
      spec: {
        replicas: 2,
        ports: [{ name: 'sftp', port: 22, protocol: 'TCP' }],
        type: 'ClusterIP',
      },
      status: {},
    };
    assert.equal(containsDesired(observed, desired), true);
    assert.equal(containsDesired({ spec: { ...observed.spec, replicas: 3 } }, desired), false);
    assert.equal(containsDesired({ spec: { replicas: 2 } }, desired), false);
    assert.equal(
      containsDesired(
        { spec: { replicas: 2, ports: [...observed.spec.ports, { port: 1 }] } },
        desired,
      ),
      false,
      'a list with an extra item differs',
    );
    assert.equal(containsDesired(undefined, desired), false);
  });
});

describe('canonicalJson', () => {
  it('ignores the order of object keys but not of list items', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: 2, c: 3 } }), '{"a":{"c":3,"d":2},"b":1}');
    assert.equal(sameJson({ a: 1, b: 2 }, { b: 2, a: 1 }), true);
    assert.equal(sameJson([1, 2], [2, 1]), false);
  });
});
