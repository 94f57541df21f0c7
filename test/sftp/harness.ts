/** Starts the engine on an in-process stream pair with a memory Vfs and a recording logger. */
import {
  serveSftp,
  type SftpLogger,
  type SftpSession,
  type SftpSessionOptions,
} from '../../server/src/sftp/engine.js';
import { MemoryVfs } from '../../server/src/vfs/memory.js';
import type { Vfs } from '../../server/src/vfs/types.js';
import { streamPair, TestClient } from './client.js';

export interface LogLine {
  level: string;
  fields: object;
  message: string;
}

export function recordingLogger(lines: LogLine[] = []): SftpLogger & { lines: LogLine[] } {
  const at =
    (level: string) =>
    (fields: object, message: string): void => {
      lines.push({ level, fields, message });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Harness {
  client: TestClient;
  session: SftpSession;
  vfs: Vfs;
  logger: ReturnType<typeof recordingLogger>;
}

export function startEngine(
  options: Partial<Omit<SftpSessionOptions, 'stream'>> & { highWaterMark?: number } = {},
): Harness {
  const [serverSide, clientSide] = streamPair(options.highWaterMark);
  const vfs = options.vfs ?? new MemoryVfs();
  const logger = recordingLogger();
  const session = serveSftp({
    ...options,
    stream: serverSide,
    vfs,
    logger: options.logger ?? logger,
  });
  return { client: new TestClient(clientSide), session, vfs, logger };
}

/** Rejects when `promise` does not settle in time, naming what hung. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `condition` holds, checked on every turn of the event loop; rejects after `ms`. */
export function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error(`${what} not reached within ${ms} ms`));
      else setImmediate(check);
    };
    check();
  });
}
