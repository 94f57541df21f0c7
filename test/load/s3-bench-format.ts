/** The S3 section of the benchmark report (measured by s3-bench.ts): rows, ratio, text. */

export interface S3BenchRow {
  direction: 'upload' | 'download';
  /** MiB/s, best of the runs. */
  kubesftp?: number;
  direct?: number;
  error?: string;
}

export interface S3BenchSection {
  setup: string;
  rows: S3BenchRow[];
}

export const S3_TARGET_RATIO = 0.8;

export function s3Ratio(row: S3BenchRow): number | undefined {
  if (row.kubesftp === undefined || row.direct === undefined || row.direct <= 0) return undefined;
  return row.kubesftp / row.direct;
}

/** The section as printed under the main table. */
export function formatS3Section(section: S3BenchSection): string {
  const lines = [`S3: ${section.setup}`];
  for (const row of section.rows) {
    if (row.error !== undefined) {
      lines.push(`  ${row.direction}: failed: ${row.error}`);
      continue;
    }
    const ratio = s3Ratio(row);
    const verdict = ratio !== undefined && ratio >= S3_TARGET_RATIO ? 'meets' : 'misses';
    lines.push(
      `  ${row.direction.padEnd(8)} kubesftp ${row.kubesftp!.toFixed(1)} MiB/s, direct ` +
        `${row.direct!.toFixed(1)} MiB/s, ratio ${ratio?.toFixed(2) ?? '-'} ` +
        `(${verdict} the ${S3_TARGET_RATIO} target)`,
    );
  }
  return `${lines.join('\n')}\n`;
}
