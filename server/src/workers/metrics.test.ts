import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Registry } from 'prom-client';
import { carriedTotals, labelProcess, mergeMetrics, type MetricJson } from './metrics.js';

/** A registry as one process of a pod would have it. */
async function processRegistry(figures: {
  bytes: number;
  rss: number;
  sessions: number;
  degraded: 0 | 1;
}): Promise<MetricJson[]> {
  const registry = new Registry();
  new Counter({ name: 'kubesftp_transfer_bytes_total', help: 'b', registers: [registry] }).inc(
    figures.bytes,
  );
  new Gauge({ name: 'process_resident_memory_bytes', help: 'r', registers: [registry] }).set(
    figures.rss,
  );
  new Gauge({ name: 'kubesftp_sessions', help: 's', registers: [registry] }).set(figures.sessions);
  new Gauge({
    name: 'kubesftp_degraded',
    help: 'd',
    aggregator: 'max',
    registers: [registry],
  }).set(figures.degraded);
  return (await registry.getMetricsAsJSON()) as unknown as MetricJson[];
}

describe('merging the workers into the primary /metrics', () => {
  it('sums server totals, labels process figures, keeps the primary sessions, takes the worst health', async () => {
    const primary = await processRegistry({ bytes: 0, rss: 60, sessions: 3, degraded: 0 });
    const w0 = await processRegistry({ bytes: 100, rss: 70, sessions: 1, degraded: 1 });
    const w1 = await processRegistry({ bytes: 50, rss: 80, sessions: 2, degraded: 0 });
    const text = await mergeMetrics(labelProcess(primary, 'primary'), [
      labelProcess(w0, 'worker-0'),
      labelProcess(w1, 'worker-1'),
    ]).metrics();
    assert.match(text, /^kubesftp_transfer_bytes_total 150$/m);
    assert.match(text, /^kubesftp_sessions 3$/m, 'the primary counts the workers itself');
    assert.match(text, /^kubesftp_degraded 1$/m);
    assert.match(text, /^process_resident_memory_bytes\{process="primary"\} 60$/m);
    assert.match(text, /^process_resident_memory_bytes\{process="worker-0"\} 70$/m);
    assert.match(text, /^process_resident_memory_bytes\{process="worker-1"\} 80$/m);
  });

  it("carries a worker's counters, not its gauges or process figures", async () => {
    const w0 = await processRegistry({ bytes: 100, rss: 70, sessions: 1, degraded: 1 });
    assert.deepEqual(
      carriedTotals(w0).map((m) => m.name),
      ['kubesftp_transfer_bytes_total'],
    );
  });
});
