/**
 * What a server costs doing nothing: its memory before the first client, and what each idle
 * authenticated SFTP session adds. The sessions come from ssh2 clients in this process (one
 * TCP connection each, on loopback), opened a few at a time and held until measured.
 */
import { readFile } from 'node:fs/promises';
import { Client } from 'ssh2';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import type { BenchServer } from './client.js';
import { median, memoryOf } from './rss.js';

/** Proportional set size of one process in KiB (shared pages split among their users). */
async function pssOf(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => undefined);
  if (rollup === undefined) return 0;
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
}

/** Summed PSS of the processes, KiB: forked sshd children share most of their pages. */
export async function totalPssKiB(pids: number[]): Promise<number> {
  const values = await Promise.all(pids.map(pssOf));
  return values.reduce((sum, value) => sum + value, 0);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Median VmRSS of the server's main process over a few samples, MiB. */
export async function idleRssMiB(pid: number, samples = 5, intervalMs = 200): Promise<number> {
  const values: number[] = [];
  for (let index = 0; index < samples; index++) {
    if (index > 0) await delay(intervalMs);
    const memory = await memoryOf(pid);
    if (memory === undefined) {
      throw new KubesftpError(ErrorCode.FAILURE, `process ${pid} exited while idle`);
    }
    values.push(memory.rssKiB);
  }
  return median(values) / 1024;
}

/** The soft limit on open files of this process, from /proc; undefined when unreadable. */
export async function openFilesLimit(): Promise<number | undefined> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => undefined);
  const soft = limits && /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
  if (soft === undefined || soft === '') return undefined;
  return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

/**
 * Refuses, with the remedy, a session count the open-file limit cannot hold: the client (this
 * process) and kubesftp each take one descriptor per session, and both inherit this limit.
 */
export function assertOpenFilesFor(count: number, limit: number | undefined): void {
  // Room for the servers' own files (database, logs, host keys) and the client's.
  const needed = count + 256;
  if (limit !== undefined && limit < needed) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${count} sessions need about ${needed} open files, the limit is ${limit}: raise it (ulimit -n ${needed}) or lower BENCH_IDLE_SESSIONS`,
    );
  }
}

export interface HeldSessions {
  count: number;
  close(): Promise<void>;
}

/** One authenticated connection with an open sftp channel. */
function openSession(options: {
  server: BenchServer;
  privateKey: Buffer;
  timeoutMs: number;
}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const timer = setTimeout(() => {
      client.end();
      reject(
        new KubesftpError(ErrorCode.FAILURE, `no sftp session within ${options.timeoutMs} ms`),
      );
    }, options.timeoutMs);
    client.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    client.once('ready', () => {
      client.sftp((err) => {
        clearTimeout(timer);
        if (err) {
          client.end();
          reject(err);
        } else resolve(client);
      });
    });
    client.connect({
      host: '127.0.0.1',
      port: options.server.port,
      username: options.server.username,
      privateKey: options.privateKey,
      readyTimeout: options.timeoutMs,
    });
  });
}

/**
 * Opens `count` sessions, `concurrency` logins at a time (under both servers' MaxStartups),
 * and keeps them open. The first failure closes what was opened and is thrown.
 */
export async function holdSessions(options: {
  server: BenchServer;
  keyPath: string;
  count: number;
  concurrency?: number;
  timeoutMs?: number;
}): Promise<HeldSessions> {
  const privateKey = await readFile(options.keyPath);
  const clients: Client[] = [];
  const close = async (): Promise<void> => {
    for (const client of clients.splice(0)) client.end();
    // Let both servers notice the closes before anything else is measured.
    await delay(1000);
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      next++;
      clients.push(
        await openSession({
          server: options.server,
          privateKey,
          timeoutMs: options.timeoutMs ?? 30_000,
        }),
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  } catch (err) {
    await close();
    throw err;
  }
  return { count: clients.length, close };
}
