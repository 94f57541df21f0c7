/**
 * One node per machine: its iptables chains, cgroups and sysctls are machine-wide. A lock
 * held by a `flock` child (released by the kernel when this process dies, however it dies)
 * makes a second bed wait, and a record file lists everything the running node changed on the
 * machine, so the next start can undo what a killed run left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import type { RecordedProcess } from './host.js';

/** Kept on tmpfs: after a reboot no process, mount or chain of an old run can remain. */
export const nodeRunDir = process.env['KUBESFTP_TESTBED_RUN_DIR'] || '/run/kubesftp-testbed';
const lockPath = join(nodeRunDir, 'node.lock');
const recordPath = join(nodeRunDir, 'node.json');

/** What a node changed on the machine, as far as teardown needs to know. */
export interface NodeRecord {
  ownerPid: number;
  /** The bed's temp dir: state, sockets, mounts of containerd and the kubelet. */
  dir: string;
  bridge: string;
  /** The node's addresses (node, pods, Services), whose conntrack entries teardown drops. */
  addressRange: string;
  /** Every process the bed started, control plane included, by pid and start time. */
  processes: RecordedProcess[];
  /** Sysctl values before the node started. */
  sysctls: Record<string, string>;
  /** KUBE-/CNI- chains that existed before (normally none); they are left alone. */
  chainsBefore: string[];
  /** iptables tables that existed before; with nf_tables, the others are the node's. */
  tablesBefore: string[];
  /** Machine paths the node's binaries create outside the temp dir, absent before. */
  createdPaths: string[];
  /** cgroup directories absent before, one per hierarchy (the kubelet's kubepods). */
  createdCgroups: string[];
  /** The CNI network's name: libcni caches its results under it in /var/lib/cni. */
  cniNetwork: string;
  containerdAddress?: string;
  kubeProxyBinary?: string;
}

export function readRecord(): NodeRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath, 'utf8')) as NodeRecord;
  } catch {
    return undefined;
  }
}

/** Written whole and renamed into place: a kill mid-write never leaves half a record. */
export function writeRecord(record: NodeRecord): void {
  mkdirSync(nodeRunDir, { recursive: true });
  writeFileSync(`${recordPath}.partial`, JSON.stringify(record, null, 2));
  renameSync(`${recordPath}.partial`, recordPath);
}

export function removeRecord(): void {
  rmSync(recordPath, { force: true });
}

export interface NodeLock {
  release(): void;
}

/** Waits for the machine's node lock; fails after timeoutMs naming what holds it. */
export async function acquireNodeLock(timeoutMs: number): Promise<NodeLock> {
  mkdirSync(nodeRunDir, { recursive: true });
  // `cat` holds the lock until its stdin closes: when we release it, or when we die.
  const holder = spawn(
    'flock',
    ['--exclusive', lockPath, 'sh', '-c', 'echo locked; exec cat >/dev/null'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  try {
    await lockTaken(holder, timeoutMs);
  } catch (err) {
    holder.kill('SIGKILL');
    throw err;
  }
  // The lock must not keep the test process alive, nor be closed by anything but release().
  holder.unref();
  for (const stream of [holder.stdin, holder.stdout, holder.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
  return { release: () => holder.stdin?.end() };
}

function lockTaken(holder: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const owner = readRecord()?.ownerPid;
      reject(
        new KubesftpError(
          ErrorCode.FAILURE,
          `another test bed node holds ${lockPath} (pid ${owner ?? 'unknown'}) after ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    holder.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    holder.once('error', (err) => {
      clearTimeout(timer);
      reject(new KubesftpError(ErrorCode.FAILURE, `flock: ${err.message}`, { cause: err }));
    });
    holder.once('exit', (code) => {
      clearTimeout(timer);
      reject(new KubesftpError(ErrorCode.FAILURE, `flock exited with ${code}`));
    });
  });
}
