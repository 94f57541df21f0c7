/**
 * A server's CPU time from /proc: user and system time of every process in its tree, with the
 * time of the children each has reaped. A process's time moves to its parent's reaped-children
 * fields when it exits, so the sum over the tree keeps counting it (sshd's per-connection
 * processes are gone by the time a client run ends).
 */
import { readFile } from 'node:fs/promises';
import { processTree } from './rss.js';

/** /proc reports these fields in clock ticks of 1/100 s (USER_HZ, fixed by the kernel's ABI). */
const MS_PER_TICK = 10;
/** Reads of a tree that changed while it was read are retried this many times. */
const TREE_READS = 10;

/** utime + stime + cutime + cstime in ms, from the text of /proc/PID/stat. */
export function cpuMsOfStat(stat: string): number {
  // The command name is in parentheses and may hold spaces and parentheses: fields start after
  // the last ')', with the state (field 3). utime, stime, cutime and cstime are fields 14 to 17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = fields.slice(11, 15).reduce((sum, field) => sum + Number(field), 0);
  return ticks * MS_PER_TICK;
}

/** CPU time of one process and the children it has reaped, in ms; 0 once it has gone. */
export async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined ? 0 : cpuMsOfStat(stat);
}

/**
 * CPU time of `rootPid` and every process under it, in ms. A process that exits between the
 * listing and the reads would be counted twice (itself, then in its parent) or not at all, so a
 * tree that changed meanwhile is read again.
 */
export async function treeCpuMs(rootPid: number): Promise<number> {
  let pids = await processTree(rootPid, true);
  for (let read = 1; ; read++) {
    const times = await Promise.all(pids.map(processCpuMs));
    const after = await processTree(rootPid, true);
    const unchanged = after.length === pids.length && after.every((pid) => pids.includes(pid));
    if (unchanged || read === TREE_READS) return times.reduce((sum, ms) => sum + ms, 0);
    pids = after;
  }
}
