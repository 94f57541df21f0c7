/** A Vfs wrapper for tests that records file calls and can delay them. */
import type { Vfs, VfsFile } from '../../server/src/vfs/types.js';

export interface FileCall {
  op: 'read' | 'write' | 'close' | 'abort' | 'sync';
  path: string;
  position?: number;
  length?: number;
}

export interface SpyOptions {
  /** Milliseconds to hold each write (or read) before it reaches the wrapped file. */
  delay?: (call: FileCall) => number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function spyVfs(inner: Vfs, options: SpyOptions = {}): Vfs & { calls: FileCall[] } {
  const calls: FileCall[] = [];
  const hold = async (call: FileCall): Promise<void> => {
    calls.push(call);
    const ms = options.delay?.(call) ?? 0;
    if (ms > 0) await sleep(ms);
  };
  const wrapFile = (file: VfsFile, path: string): VfsFile => ({
    read: async (length, position) => {
      await hold({ op: 'read', path, position, length });
      return file.read(length, position);
    },
    write: async (data, position) => {
      await hold({ op: 'write', path, position, length: data.length });
      return file.write(data, position);
    },
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
    get(target, property, receiver) {
      if (property === 'calls') return calls;
      if (property === 'open') {
        return async (...args: Parameters<Vfs['open']>) =>
          wrapFile(await target.open(...args), args[0]);
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  }) as Vfs & { calls: FileCall[] };
}
