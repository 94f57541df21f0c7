/**
 * A server's CPU time from /proc: user and system time of every process in its tree, with the
 * time of the children each has reaped. A process's time moves to its parent's reaped-children
 * fields when it exits, so the sum over the tree keeps counting it (sshd's per-connection
 * processes are gone by the time a client run ends).
 */
import { readFile } from 'node:fs/promises';
import { processTree } from './rss.js';

/** Linux reports these fields in clock ticks of 1/100 s (USER_HZ). */
const MS_PER_TICK = 10;

/** utime + stime + cutime + cstime of one process in ms, or 0 once it has been reaped. */
export async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return 0;
  // The command name is in parentheses and may hold spaces: fields start after the last ')',
  // with the state (field 3). utime, stime, cutime and cstime are fields 14 to 17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = fields.slice(11, 15).reduce((sum, field) => sum + Number(field), 0);
  return ticks * MS_PER_TICK;
}

/** CPU time of `rootPid` and every process under it, in ms. */
export async function treeCpuMs(rootPid: number): Promise<number> {
  const times = await Promise.all((await processTree(rootPid, true)).map(processCpuMs));
  return times.reduce((sum, ms) => sum + ms, 0);
}
