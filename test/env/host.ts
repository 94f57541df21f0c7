/**
 * Synchronous reads and changes of the machine the node runs on: processes by pid and start
 * time, mounts, cgroups and sysctls. Synchronous on purpose: the same calls run from a process
 * 'exit' handler, where nothing asynchronous gets to finish.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';

/** Where the node's tools live; the test process's own PATH may lack the sbin directories. */
export const systemPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface CommandResult {
  ok: boolean;
  stdout: string;
  /** stderr, or why the command could not run. */
  stderr: string;
}

export function runSync(command: string, args: string[], timeoutMs = 30_000): CommandResult {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, PATH: `${systemPath}:${process.env['PATH'] ?? ''}` },
  });
  const failure = result.error?.message ?? (result.signal ? `killed by ${result.signal}` : '');
  return {
    ok: result.status === 0,
    stdout: result.stdout ?? '',
    stderr: failure || (result.stderr ?? ''),
  };
}

/** Runs a command that must succeed; the error names the command and what it printed. */
export function mustRun(command: string, args: string[], timeoutMs?: number): string {
  const result = runSync(command, args, timeoutMs);
  if (!result.ok) {
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `${command} ${args.join(' ')} failed: ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/** Field 22 of /proc/<pid>/stat: with the pid, it names one process even after pid reuse. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export interface RecordedProcess {
  name: string;
  pid: number;
  startTime: string;
}

export function recordProcess(name: string, pid: number | undefined): RecordedProcess {
  const startTime = pid === undefined ? undefined : processStartTime(pid);
  if (pid === undefined || startTime === undefined) {
    throw new KubesftpError(ErrorCode.FAILURE, `${name} exited before it could be recorded`);
  }
  return { name, pid, startTime };
}

/** SIGKILLs the process if it is still the one recorded; true when it was running. */
export function killRecorded(recorded: RecordedProcess): boolean {
  if (processStartTime(recorded.pid) !== recorded.startTime) return false;
  try {
    process.kill(recorded.pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

export function killPids(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Blocks the thread (we may be in an 'exit' handler, where timers never fire). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Pids whose command line contains every one of the given arguments. */
export function pidsWithArguments(required: readonly string[]): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (required.every((arg) => argv.includes(arg))) found.push(Number(entry));
  }
  return found;
}

/** Mount points at or below one of the directories, deepest first. */
export function mountsUnder(dirs: readonly string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => unescapeMountPath(line.split(' ')[4]!));
  const inside = points.filter((point) =>
    dirs.some((dir) => point === dir || point.startsWith(`${dir}/`)),
  );
  return [...new Set(inside)].sort((a, b) => b.length - a.length);
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/** Unmounts everything below the directories; returns what could not be unmounted. */
export function unmountAllUnder(dirs: readonly string[]): string[] {
  for (let pass = 0; pass < 5; pass++) {
    const points = mountsUnder(dirs);
    if (points.length === 0) return [];
    for (const point of points) {
      if (!runSync('umount', [point]).ok) runSync('umount', ['--lazy', point]);
    }
  }
  return mountsUnder(dirs);
}

/** The mounted cgroup v1 hierarchies and the v2 one (the "unified" mount on a hybrid host). */
export function cgroupHierarchies(): string[] {
  const root = '/sys/fs/cgroup';
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, entry.name, 'cgroup.procs')))
    .map((entry) => join(root, entry.name));
}

/** Every cgroup directory below (and including) dir, deepest first. */
function cgroupTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const below = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => cgroupTree(join(dir, entry.name)));
  return [...below, dir];
}

export function pidsInCgroupTree(dir: string): number[] {
  return cgroupTree(dir).flatMap((cgroup) => {
    try {
      return readFileSync(join(cgroup, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map(Number);
    } catch {
      return [];
    }
  });
}

/** Removes a cgroup and everything below it; returns the directories that stayed. */
export function removeCgroupTree(dir: string): string[] {
  const stayed: string[] = [];
  for (const cgroup of cgroupTree(dir)) {
    try {
      rmdirSync(cgroup);
    } catch {
      stayed.push(cgroup);
    }
  }
  return stayed;
}

function sysctlPath(name: string): string {
  return join('/proc/sys', name.replaceAll('.', '/'));
}

/** Current values of the sysctls that exist on this kernel. */
export function readSysctls(names: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of names) {
    try {
      values[name] = readFileSync(sysctlPath(name), 'utf8').trim();
    } catch {
      // Not on this kernel (a module that is not loaded): nothing to restore.
    }
  }
  return values;
}

/** Writes back the values that changed; returns the names that could not be restored. */
export function restoreSysctls(saved: Record<string, string>): string[] {
  const failed: string[] = [];
  const now = readSysctls(Object.keys(saved));
  for (const [name, value] of Object.entries(saved)) {
    if (now[name] === value) continue;
    try {
      writeFileSync(sysctlPath(name), value);
    } catch {
      failed.push(name);
    }
  }
  return failed;
}
