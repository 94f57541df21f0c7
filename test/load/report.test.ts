import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  failuresByCause,
  formatReport,
  ratioOf,
  reportJson,
  tableLines,
  type MetricRow,
} from './report.js';

const throughput: MetricRow = {
  metric: 'upload',
  unit: 'MiB/s',
  better: 'higher',
  openssh: 400,
  kubesftp: 300,
};
const latency: MetricRow = {
  metric: 'login',
  unit: 'ms',
  better: 'lower',
  openssh: 140,
  kubesftp: 70,
};

describe('benchmark report', () => {
  test('a ratio above 1 means kubesftp did better, whichever way the metric points', () => {
    assert.equal(ratioOf(throughput), 0.75);
    assert.equal(ratioOf(latency), 2);
    assert.equal(ratioOf({ ...latency, kubesftp: 280 }), 0.5);
  });

  test('a row without both figures, or with a zero, has no ratio', () => {
    assert.equal(ratioOf({ ...throughput, kubesftp: undefined }), undefined);
    assert.equal(ratioOf({ ...throughput, openssh: 0 }), undefined);
    assert.equal(ratioOf({ ...latency, kubesftp: Number.NaN }), undefined);
  });

  test('the table aligns every row and marks failed figures', () => {
    const failed: MetricRow = { ...latency, kubesftp: undefined, errors: { kubesftp: 'refused' } };
    const lines = tableLines({ setup: {}, rows: [throughput, failed] });
    assert.equal(lines.length, 4);
    assert.equal(new Set(lines.map((line) => line.length)).size, 1, lines.join('\n'));
    assert.match(lines[2]!, /\| +400 \| +300 \| +0\.75 k\/O$/);
    assert.match(lines[3]!, /\| +140 \| +failed \| +-$/);
  });

  test('one cause that cost several metrics is listed once, with the metrics', () => {
    const error = { kubesftp: 'server did not start: boom' };
    const rows = [
      { ...throughput, kubesftp: undefined, errors: error },
      { ...latency, kubesftp: undefined, errors: error },
    ];
    const causes = failuresByCause(rows);
    assert.deepEqual([...causes], [['[kubesftp] server did not start: boom', ['upload', 'login']]]);
    const text = formatReport({ setup: { 'large file': '8 MiB' }, rows });
    assert.equal(text.split('server did not start: boom').length, 2, text);
    assert.match(text, /^large file: 8 MiB$/m);
  });

  test('the JSON form carries each figure and its ratio', () => {
    const parsed = JSON.parse(reportJson({ setup: { runs: 2 }, rows: [throughput, latency] })) as {
      setup: { runs: number };
      rows: { metric: string; ratio: number | null }[];
    };
    assert.equal(parsed.setup.runs, 2);
    assert.deepEqual(
      parsed.rows.map((row) => [row.metric, row.ratio]),
      [
        ['upload', 0.75],
        ['login', 2],
      ],
    );
  });
});

describe('benchmark report: the S3 section', () => {
  const s3 = {
    setup: '1024 MiB to MinIO',
    rows: [
      { direction: 'upload' as const, kubesftp: 90, direct: 100 },
      { direction: 'download' as const, kubesftp: 70, direct: 100 },
    ],
  };

  test('prints kubesftp beside the SDK directly with the ratio against the 0.8 target', () => {
    const text = formatReport({ setup: {}, rows: [], s3 });
    assert.match(text, /upload +kubesftp 90\.0 MiB\/s, direct 100\.0 MiB\/s, ratio 0\.90 \(meets/);
    assert.match(
      text,
      /download kubesftp 70\.0 MiB\/s, direct 100\.0 MiB\/s, ratio 0\.70 \(misses/,
    );
    const json = JSON.parse(reportJson({ setup: {}, rows: [], s3 })) as {
      s3: { rows: Array<{ ratio: number }> };
    };
    assert.deepEqual(
      json.s3.rows.map((row) => row.ratio),
      [0.9, 0.7],
    );
  });

  test('a failed S3 run says why instead of a figure', () => {
    const failed = {
      setup: 'x',
      rows: [{ direction: 'upload' as const, error: 'minio did not start' }],
    };
    assert.match(
      formatReport({ setup: {}, rows: [], s3: failed }),
      /upload: failed: minio did not start/,
    );
  });
});
