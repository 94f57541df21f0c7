/** What the kernel says about a server process under test: its storage writes and memory. */
import { readFile, writeFile } from 'node:fs/promises';

/** What a process has written to storage (not pipes or sockets), from /proc/<pid>/io. */
export async function writeBytes(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  return Number(/^write_bytes:\s+(\d+)/m.exec(io)![1]);
}

/** Resident set size now and at its peak (VmRSS, VmHWM) in bytes, from /proc/<pid>/status. */
export async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 };
}

/** Resets the peak (VmHWM) to the current RSS, so a later `memory().peak` is what came after. */
export async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}
