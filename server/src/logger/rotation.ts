/**
 * A log file rotated by size. rotating-file-stream does the rotation, the backup count and
 * gzip; it has no age limit, so rotated files older than maxAgeDays are pruned here after
 * each rotation and once at startup.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';

export interface RotationOptions {
  filePath: string;
  /** Size that triggers a rotation, in MiB; fractions allowed (tests use tiny sizes). */
  maxSizeMB: number;
  /** Rotated files kept; 0 keeps all. */
  maxBackups: number;
  /** Days a rotated file is kept; 0 keeps them forever. */
  maxAgeDays: number;
  compress: boolean;
}

export interface RotatingFile {
  stream: RotatingFileStream;
  /** Ends the stream and waits for pending rotation and pruning. */
  close(): Promise<void>;
}

const DAY_MS = 24 * 3600 * 1000;

function nameParts(filePath: string): { dir: string; stem: string; ext: string; base: string } {
  const base = path.basename(filePath);
  const ext = path.extname(base);
  return { dir: path.dirname(filePath), stem: base.slice(0, base.length - ext.length), ext, base };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `kubesftp.log` rotates to `kubesftp-2024-05-01T10-11-12.345Z[-n].log[.gz]`. */
export function rotatedNamePattern(filePath: string): RegExp {
  const { stem, ext } = nameParts(filePath);
  const stamp = '\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}\\.\\d{3}Z';
  return new RegExp(`^${escapeRegExp(stem)}-${stamp}(-\\d+)?${escapeRegExp(ext)}(\\.gz)?$`);
}

/** With a generator function, rotating-file-stream leaves the `.gz` suffix to us. */
function nameGenerator(
  filePath: string,
  compress: boolean,
): (time: number | Date | null, index?: number) => string {
  const { stem, ext, base } = nameParts(filePath);
  const suffix = compress ? '.gz' : '';
  return (time, index = 1) => {
    if (time === null) return base;
    const stamp = new Date(time).toISOString().replace(/:/g, '-');
    return `${stem}-${stamp}${index > 1 ? `-${index}` : ''}${ext}${suffix}`;
  };
}

/** Deletes rotated files of `filePath` last written before now - maxAgeDays. */
export async function pruneOldLogs(
  filePath: string,
  maxAgeDays: number,
  now = Date.now(),
): Promise<string[]> {
  if (maxAgeDays <= 0) return [];
  const { dir } = nameParts(filePath);
  const pattern = rotatedNamePattern(filePath);
  const removed: string[] = [];
  for (const name of (await readdir(dir)).filter((n) => pattern.test(n))) {
    const full = path.join(dir, name);
    const info = await stat(full).catch(() => undefined);
    if (info === undefined || now - info.mtimeMs <= maxAgeDays * DAY_MS) continue;
    await unlink(full).catch(() => undefined);
    removed.push(full);
  }
  return removed;
}

export function openRotatingFile(opts: RotationOptions): RotatingFile {
  const { dir, base } = nameParts(opts.filePath);
  const sizeBytes = Math.max(1, Math.round(opts.maxSizeMB * 1024 * 1024));
  const stream = createStream(nameGenerator(opts.filePath, opts.compress), {
    path: dir,
    size: `${sizeBytes}B`,
    history: `.${base}.history`,
    ...(opts.maxBackups > 0 ? { maxFiles: opts.maxBackups } : {}),
    ...(opts.compress ? { compress: 'gzip' as const } : {}),
  });
  let pruning: Promise<unknown> = pruneOldLogs(opts.filePath, opts.maxAgeDays);
  stream.on('rotated', () => {
    pruning = pruning.then(() => pruneOldLogs(opts.filePath, opts.maxAgeDays));
  });
  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      stream.once('finish', resolve);
      stream.end();
    });
    await pruning.catch(() => undefined);
  };
  return { stream, close };
}
