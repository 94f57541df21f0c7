import { randomFillSync } from 'node:crypto';
import { ErrorCode, KubesftpError } from '../errors.js';
import type { VfsDir, VfsFile } from '../vfs/types.js';
import type { NameEntry } from './writer.js';

export interface FileHandle {
  kind: 'file';
  file: VfsFile;
  /** The virtual path it was opened with (for fstatvfs and logs). */
  path: string;
  readable: boolean;
  writable: boolean;
}

export interface DirHandle {
  kind: 'dir';
  dir: VfsDir;
  path: string;
  /** `.` and `..` go out with the first READDIR reply, as a POSIX readdir lists them. */
  dotsSent: boolean;
  exhausted: boolean;
  /** Entries read from the backend that the last reply had no room for, sent next. */
  carried: NameEntry[];
}

export type OpenHandle = FileHandle | DirHandle;

const ID_BYTES = 8;
/**
 * Random bytes for handle ids, drawn 4 KiB at a time: a `randomBytes` call per OPEN cost more
 * than the rest of the table's work for a small file.
 */
const idBytes = Buffer.alloc(4096);
let idBytesAt = idBytes.length;

/** A fresh unguessable id: 8 bytes of the system's secure random generator, in hex. */
export function randomHandleId(): string {
  if (idBytesAt + ID_BYTES > idBytes.length) {
    randomFillSync(idBytes);
    idBytesAt = 0;
  }
  const id = idBytes.toString('hex', idBytesAt, idBytesAt + ID_BYTES);
  idBytesAt += ID_BYTES;
  return id;
}

function invalidHandle(): KubesftpError {
  return new KubesftpError(ErrorCode.FAILURE, 'invalid handle');
}

/** Open files and directories of one session under opaque, unguessable ids, bounded in count. */
export class HandleTable {
  readonly #limit: number;
  readonly #open = new Map<string, OpenHandle>();
  #closed = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#open.size;
  }

  has(id: string): boolean {
    return this.#open.has(id);
  }

  /** Fails early, before a backend opens something the table could not hold. */
  ensureRoom(): void {
    if (this.#closed || this.#open.size >= this.#limit) {
      throw new KubesftpError(ErrorCode.FAILURE, `open handle limit (${this.#limit}) reached`);
    }
  }

  add(handle: OpenHandle): string {
    this.ensureRoom();
    let id = randomHandleId();
    while (this.#open.has(id)) id = randomHandleId();
    this.#open.set(id, handle);
    return id;
  }

  file(id: string): FileHandle {
    const handle = this.#open.get(id);
    if (handle?.kind !== 'file') throw invalidHandle();
    return handle;
  }

  dir(id: string): DirHandle {
    const handle = this.#open.get(id);
    if (handle?.kind !== 'dir') throw invalidHandle();
    return handle;
  }

  any(id: string): OpenHandle {
    const handle = this.#open.get(id);
    if (handle === undefined) throw invalidHandle();
    return handle;
  }

  remove(id: string): OpenHandle {
    const handle = this.any(id);
    this.#open.delete(id);
    return handle;
  }

  /** Refuses new handles and hands back every open one for the caller to abort. */
  closeAll(): OpenHandle[] {
    this.#closed = true;
    const all = [...this.#open.values()];
    this.#open.clear();
    return all;
  }
}
