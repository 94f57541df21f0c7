import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IpRanges, normalizeClientIp } from './ip-ranges.js';

test('plain addresses and CIDR ranges of both families match, mapped IPv4 as IPv4', () => {
  const ranges = new IpRanges(['192.0.2.0/24', '198.51.100.7', '2001:db8::/32', '::1']);
  assert.ok(ranges.contains('192.0.2.200'));
  assert.ok(ranges.contains('::ffff:192.0.2.1'));
  assert.ok(ranges.contains('198.51.100.7'));
  assert.ok(!ranges.contains('198.51.100.8'));
  assert.ok(ranges.contains('2001:db8:1::5'));
  assert.ok(ranges.contains('::1'));
  assert.ok(!ranges.contains('2001:db9::1'));
  assert.ok(!ranges.contains('not an address'));
});

test('an empty list matches nothing', () => {
  assert.ok(!new IpRanges([]).contains('127.0.0.1'));
});

test('a bad entry is refused with where it came from', () => {
  for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '::1/129', '10.0.0.0/x']) {
    assert.throws(
      () => new IpRanges([bad], 'defender.safe_list'),
      (err: Error) => {
        assert.match(err.message, /^defender\.safe_list: ".*" is not an address or a CIDR range$/);
        return true;
      },
    );
  }
});

test('the IPv4-mapped prefix is stripped, other addresses are kept', () => {
  assert.equal(normalizeClientIp('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeClientIp('::FFFF:10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeClientIp('2001:db8::1'), '2001:db8::1');
});
