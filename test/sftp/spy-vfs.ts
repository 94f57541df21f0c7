/**
 * A Vfs wrapper for tests that records file calls, can delay or gate them, and keeps the highest number
 * of reads (and of writes) that were running at once.
 */
import { writeLength, type Vfs, type VfsFile } from '../../server/src/vfs/types.js';

export interface FileCall {
  op: 'read' | 'write' | 'close' | 'abort' | 'sync';
  path: string;
  position?: number;
  length?: number;
}

export interface SpyOptions {
  /** Milliseconds to hold each write (or read) before it reaches the wrapped file. */
  delay?: (call: FileCall) => number;
  /** A promise the call waits for after its delay, so a test decides when it goes on. */
  gate?: (call: FileCall) => Promise<void> | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Peaks {
  read: number;
  write: number;
}

export function spyVfs(
  inner: Vfs,
  options: SpyOptions = {},
): Vfs & { calls: FileCall[]; peaks: Peaks } {
  const calls: FileCall[] = [];
  const active: Peaks = { read: 0, write: 0 };
  const peaks: Peaks = { read: 0, write: 0 };
  const hold = async (call: FileCall): Promise<void> => {
    calls.push(call);
    const ms = options.delay?.(call) ?? 0;
    if (ms > 0) await sleep(ms);
    await options.gate?.(call);
  };
  const counted = async <T>(op: keyof Peaks, run: () => Promise<T>): Promise<T> => {
    active[op]++;
    peaks[op] = Math.max(peaks[op], active[op]);
    try {
      return await run();
    } finally {
      active[op]--;
    }
  };
  const wrapFile = (file: VfsFile, path: string): VfsFile => ({
    read: (length, position, into) =>
      counted('read', async () => {
        await hold({ op: 'read', path, position, length });
        return file.read(length, position, into);
      }),
    write: (data, position) =>
      counted('write', async () => {
        await hold({ op: 'write', path, position, length: writeLength(data) });
        return file.write(data, position);
      }),
    stat: () => file.stat(),
    setstat: (attrs) => file.setstat(attrs),
    sync: async () => {
      await hold({ op: 'sync', path });
      return file.sync();
    },
    close: async () => {
      await hold({ op: 'close', path });
      return file.close();
    },
    abort: async () => {
      await hold({ op: 'abort', path });
      return file.abort();
    },
  });
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'calls') return calls;
      if (property === 'peaks') return peaks;
      if (property === 'open') {
        return async (...args: Parameters<Vfs['open']>) =>
          wrapFile(await target.open(...args), args[0]);
      }
      // Getters run on the wrapped object: its private fields are not on the proxy.
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  }) as Vfs & { calls: FileCall[]; peaks: Peaks };
}
