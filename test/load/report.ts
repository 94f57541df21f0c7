/**
 * The benchmark's result: one row per metric with both servers' figures and a ratio oriented
 * so that a value above 1 always means kubesftp did better, printed as a table and as JSON.
 */

import { formatS3Section, s3Ratio, type S3BenchSection } from './s3-bench-format.js';

/** Whether a larger figure is better (throughput) or a smaller one (time, memory). */
export type Better = 'higher' | 'lower';

export interface MetricRow {
  metric: string;
  unit: string;
  better: Better;
  openssh?: number;
  kubesftp?: number;
  /** Why a figure is missing, per server. */
  errors?: { openssh?: string; kubesftp?: string };
}

export interface BenchReport {
  /** Facts about the run that the reader needs to compare figures: sizes, storage, versions. */
  setup: Record<string, string | number>;
  rows: MetricRow[];
  /** kubesftp to S3 beside the SDK directly (s3-bench.ts), when it ran. */
  s3?: S3BenchSection;
}

/** kubesftp/OpenSSH for "higher is better", OpenSSH/kubesftp otherwise; undefined without both. */
export function ratioOf(row: MetricRow): number | undefined {
  const { openssh, kubesftp } = row;
  if (openssh === undefined || kubesftp === undefined) return undefined;
  if (!Number.isFinite(openssh) || !Number.isFinite(kubesftp) || openssh <= 0 || kubesftp <= 0)
    return undefined;
  return row.better === 'higher' ? kubesftp / openssh : openssh / kubesftp;
}

function formatValue(value: number | undefined, error: string | undefined): string {
  if (value !== undefined && Number.isFinite(value)) {
    return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  }
  return error === undefined ? '-' : 'failed';
}

export function tableLines(report: BenchReport): string[] {
  const header = ['metric', 'OpenSSH', 'kubesftp', 'ratio (>1: kubesftp better)'];
  const cells = report.rows.map((row) => {
    const ratio = ratioOf(row);
    return [
      `${row.metric} (${row.unit}, ${row.better} is better)`,
      formatValue(row.openssh, row.errors?.openssh),
      formatValue(row.kubesftp, row.errors?.kubesftp),
      ratio === undefined ? '-' : `${ratio.toFixed(2)}${row.better === 'higher' ? ' k/O' : ' O/k'}`,
    ];
  });
  return alignedTable(header, cells);
}

/** Text lines of a table: the first column left-aligned, the figures right-aligned. */
export function alignedTable(header: string[], cells: string[][]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((cell) => cell[column]!.length)),
  );
  const line = (cell: string[]): string =>
    cell
      .map((text, column) =>
        column === 0 ? text.padEnd(widths[column]!) : text.padStart(widths[column]!),
      )
      .join(' | ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('-|-'), ...cells.map(line)];
}

/** Each distinct failure once, with the metrics it cost: a server that did not start costs all. */
export function failuresByCause(rows: MetricRow[]): Map<string, string[]> {
  const causes = new Map<string, string[]>();
  for (const row of rows) {
    for (const [server, error] of Object.entries(row.errors ?? {})) {
      const cause = `[${server}] ${error}`;
      causes.set(cause, [...(causes.get(cause) ?? []), row.metric]);
    }
  }
  return causes;
}

/** Setup lines, the table, a legend and every error, ready to print. */
export function formatReport(report: BenchReport): string {
  const setup = Object.entries(report.setup).map(([key, value]) => `${key}: ${value}`);
  const legend =
    'ratio: k/O = kubesftp/OpenSSH (throughput); O/k = OpenSSH/kubesftp (times, memory). Above 1, kubesftp did better.';
  const errors = [...failuresByCause(report.rows)].flatMap(([cause, metrics]) => [
    cause,
    `  (${metrics.join('; ')})`,
  ]);
  return [
    ...setup,
    '',
    ...tableLines(report),
    '',
    legend,
    ...(errors.length > 0 ? ['', 'failures:', ...errors] : []),
    '',
    ...(report.s3 ? [formatS3Section(report.s3)] : []),
  ].join('\n');
}

/** The report as JSON, with each row's ratio filled in. */
export function reportJson(report: BenchReport): string {
  return `${JSON.stringify(
    {
      setup: report.setup,
      rows: report.rows.map((row) => ({ ...row, ratio: ratioOf(row) ?? null })),
      ...(report.s3 && {
        s3: {
          ...report.s3,
          rows: report.s3.rows.map((row) => ({ ...row, ratio: s3Ratio(row) ?? null })),
        },
      }),
    },
    null,
    2,
  )}\n`;
}
