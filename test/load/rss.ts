/**
 * Resident memory of a server while it works, read from /proc: the sum of VmRSS over the
 * processes that serve a connection, sampled on an interval during a transfer.
 */
import { readdir, readFile } from 'node:fs/promises';

/** Parent pid of every process visible in /proc. Processes that vanish mid-scan are skipped. */
async function parentPids(): Promise<Map<number, number>> {
  const parents = new Map<number, number>();
  const entries = await readdir('/proc');
  await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name))
      .map(async (name) => {
        const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
        if (stat === undefined) return;
        // The command name is in parentheses and may hold spaces: fields start after the last ')'.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        parents.set(Number(name), Number(fields[1]));
      }),
  );
  return parents;
}

/** Every descendant of `rootPid`, and the root itself when asked. */
export async function processTree(rootPid: number, includeRoot: boolean): Promise<number[]> {
  const parents = await parentPids();
  const tree = new Set<number>([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  if (!includeRoot) tree.delete(rootPid);
  return [...tree];
}

/** VmRSS and VmHWM of one process in KiB, or undefined once it has exited. */
export async function memoryOf(
  pid: number,
): Promise<{ rssKiB: number; hwmKiB: number } | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  if (status === undefined) return undefined;
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** Sum of VmRSS over the given processes, in KiB. */
export async function totalRssKiB(pids: number[]): Promise<number> {
  const values = await Promise.all(pids.map(memoryOf));
  return values.reduce((sum, value) => sum + (value?.rssKiB ?? 0), 0);
}

export interface RssSummary {
  /** Highest sampled sum, MiB. */
  peakMiB: number;
  /** Median of the samples, MiB: what the server holds while the transfer runs. */
  steadyMiB: number;
  samples: number;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarizeRss(samplesKiB: number[]): RssSummary {
  const nonEmpty = samplesKiB.filter((value) => value > 0);
  return {
    peakMiB: nonEmpty.length === 0 ? Number.NaN : Math.max(...nonEmpty) / 1024,
    steadyMiB: median(nonEmpty) / 1024,
    samples: nonEmpty.length,
  };
}

/**
 * Samples the summed RSS (or what `measure` sums) of whatever `pids()` names, every
 * `intervalMs`, until stopped.
 * Samples where no serving process exists yet (the login phase) count as zero and are dropped.
 */
export function sampleRss(
  pids: () => Promise<number[]>,
  intervalMs: number,
  measure: (pids: number[]) => Promise<number> = totalRssKiB,
): { stop(): Promise<number[]> } {
  const samples: number[] = [];
  let pending: Promise<void> = Promise.resolve();
  const tick = (): void => {
    // A process that exits between listing and reading is a normal race, not a failure.
    pending = pending
      .then(async () => {
        samples.push(await measure(await pids()));
      })
      .catch(() => undefined);
  };
  const timer = setInterval(tick, intervalMs);
  tick();
  return {
    async stop() {
      clearInterval(timer);
      await pending;
      return samples;
    },
  };
}
