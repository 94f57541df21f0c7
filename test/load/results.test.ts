import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BenchServer } from './client.js';
import { repeat, Results, turnOrder, type ServerSlot } from './results.js';

describe('taking turns', () => {
  it('flips the order of the servers every run', () => {
    assert.deepEqual(turnOrder(['a', 'b'], 0), ['a', 'b']);
    assert.deepEqual(turnOrder(['a', 'b'], 1), ['b', 'a']);
    assert.deepEqual(turnOrder(['a', 'b'], 2), ['a', 'b']);
  });

  it('runs every probe once per run, each server first in half of the runs', async () => {
    const server = { name: 'x' } as BenchServer;
    const slots: ServerSlot[] = [
      { key: 'openssh', server },
      { key: 'kubesftp', server },
    ];
    const order: string[] = [];
    const results = new Results();
    await repeat({
      metric: 'm',
      slots,
      runs: 4,
      results,
      probe: (_server, key, run) => {
        order.push(`${run}:${key}`);
        return Promise.resolve(run);
      },
    });
    assert.deepEqual(order, [
      '0:openssh',
      '0:kubesftp',
      '1:kubesftp',
      '1:openssh',
      '2:openssh',
      '2:kubesftp',
      '3:kubesftp',
      '3:openssh',
    ]);
    assert.deepEqual(results.samples('m', 'kubesftp'), [0, 1, 2, 3]);
  });
});
