/**
 * `scp -f`: the client downloads. Each name (remote wildcards expanded against listings) is
 * read through the session's policy layer; one that is missing or refused gets a warning and
 * the next one is sent. Data goes out a few reads ahead of the channel, never a whole file.
 */
import { ErrorCode, KubesftpError } from '../../errors.js';
import {
  isDirectory,
  isRegularFile,
  type FileStat,
  type Vfs,
  type VfsDir,
  type VfsFile,
} from '../../vfs/types.js';
import { blockPool } from '../../sftp/block-pool.js';
import { childPath, toVirtualPath } from '../../vfs/virtual-path.js';
import { errorText } from '../messages.js';
import type { CommandOutcome, CommandRun } from '../types.js';
import { expandWord } from '../wildcards.js';
import type { ScpOptions } from './options.js';
import { formatMode, ScpProtocolError, ScpWire } from './wire.js';

const READ = {
  read: true,
  write: false,
  append: false,
  create: false,
  truncate: false,
  exclusive: false,
};
const CHUNK = 256 * 1024;
/** Chunks read ahead of the channel: the thread pool reads while the channel drains. */
const READ_AHEAD = 4;
const blocks = blockPool(CHUNK);
const EMPTY = Buffer.alloc(0);
/** What stands in for data a read could not give: never written to. */
const ZEROS = Buffer.alloc(CHUNK);
const LIST_BATCH = 256;
/** Directory levels one download may descend, which also ends symlink loops. */
const MAX_DEPTH = 256;

interface Source {
  wire: ScpWire;
  vfs: Vfs;
  options: ScpOptions;
}

interface Entry {
  path: string;
  /** The name as the client asked for it (or below it), for messages. */
  shown: string;
  depth: number;
  /** Canonical paths of the directories being sent above this entry. */
  ancestors: ReadonlySet<string>;
}

/** The name a record carries: the last element of what the client named, "." for the home. */
function recordName(shown: string, path: string): string {
  const trimmed = shown.replace(/\/+$/, '');
  const last = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  if (last !== '' && last !== '.' && last !== '..') return last;
  return path === '/' ? '.' : path.slice(path.lastIndexOf('/') + 1);
}

/** -p: the times record ahead of an entry; false when the client declined the entry. */
async function sendTimes(source: Source, stat: FileStat): Promise<boolean> {
  if (!source.options.preserve) return true;
  await source.wire.send(`T${stat.mtime} 0 ${stat.atime} 0\n`);
  return source.wire.readResponse();
}

/**
 * Reads of one file kept in flight ahead of the channel, in order, each into a pool block
 * (reused, so a download does not feed the collector 256 KiB a chunk) that goes back once
 * the channel has copied it into SSH packets.
 */
class ReadAhead {
  readonly #file: VfsFile;
  readonly #size: number;
  readonly #reads: Promise<Buffer>[] = [];
  #readFrom = 0;
  /** The first read that failed; no read starts after it. */
  failure: unknown;

  constructor(file: VfsFile, size: number) {
    this.#file = file;
    this.#size = size;
  }

  /** The next chunk in order; empty when its read failed or the file ended early. */
  next(): Promise<Buffer> {
    while (
      this.#reads.length < READ_AHEAD &&
      this.#readFrom < this.#size &&
      this.failure === undefined
    ) {
      this.#start(this.#readFrom, Math.min(CHUNK, this.#size - this.#readFrom));
      this.#readFrom += CHUNK;
    }
    return this.#reads.shift() ?? Promise.resolve(EMPTY);
  }

  /** Waits for the reads still in flight and gives their blocks back. */
  async drain(): Promise<void> {
    for (const read of this.#reads.splice(0)) blocks.release(await read);
  }

  #start(position: number, length: number): void {
    const block = blocks.take();
    const read = this.#file.read(length, position, block).then(
      (data) => {
        // A backend may answer from memory of its own: the block is then not needed.
        if (data.buffer !== block.buffer) blocks.release(block);
        return data;
      },
      (err: unknown) => {
        blocks.release(block);
        this.failure ??= err;
        return EMPTY;
      },
    );
    this.#reads.push(read);
  }
}

/** `length` bytes: the first `keep` of `chunk`, then zeros. The chunk's block goes back. */
function zeroPadded(chunk: Buffer, keep: number, length: number): Buffer {
  const padded = keep === 0 ? ZEROS.subarray(0, length) : Buffer.alloc(length);
  if (keep > 0) chunk.copy(padded, 0, 0, keep);
  blocks.release(chunk);
  return padded;
}

/**
 * Sends exactly `size` bytes, zeros after a read failure; returns that failure. Up to two
 * chunks wait in the channel while the next is read, so it never runs empty between them.
 */
async function sendData(wire: ScpWire, file: VfsFile, size: number): Promise<unknown> {
  const ahead = new ReadAhead(file, size);
  let failure: unknown;
  let sending: Promise<void> | undefined;
  try {
    for (let position = 0; position < size;) {
      const expected = Math.min(CHUNK, size - position);
      let chunk = await ahead.next();
      if (failure !== undefined || chunk.length < expected) {
        // What was read before the failure goes out; from there on, zeros.
        const keep = failure === undefined ? chunk.length : 0;
        failure ??=
          ahead.failure ??
          new KubesftpError(ErrorCode.FAILURE, 'the file shrank while it was read');
        chunk = zeroPadded(chunk, keep, expected);
      }
      position += expected;
      const previous = sending;
      const block = chunk;
      sending = wire.send(block, () => blocks.release(block));
      sending.catch(() => undefined);
      await previous;
    }
    await sending;
  } finally {
    await ahead.drain();
  }
  return failure;
}

async function sendFile(source: Source, entry: Entry & { name: string }): Promise<void> {
  const { wire, vfs } = source;
  let file: VfsFile;
  try {
    file = await vfs.open(entry.path, READ);
  } catch (err) {
    return wire.warn(`${entry.shown}: ${errorText(err)}`);
  }
  // Only a file the client confirmed is closed as a completed download; the rest is aborted.
  let sent = false;
  try {
    const stat = await file.stat();
    if (!(await sendTimes(source, stat))) return;
    await wire.send(`C${formatMode(stat.mode)} ${stat.size} ${entry.name}\n`);
    if (!(await wire.readResponse())) return;
    const failure = await sendData(wire, file, stat.size);
    if (failure === undefined) await wire.ack();
    else await wire.warn(`${entry.shown}: ${errorText(failure)}`);
    const confirmed = await wire.readResponse();
    sent = failure === undefined && confirmed;
  } finally {
    await (sent ? file.close() : file.abort());
  }
}

async function sendChildren(source: Source, dir: VfsDir, entry: Entry): Promise<void> {
  const parent = entry.shown.replace(/\/+$/, '');
  for (let batch = await dir.next(LIST_BATCH); batch; batch = await dir.next(LIST_BATCH)) {
    for (const { name } of batch) {
      if (name === '.' || name === '..') continue;
      const path = childPath(entry.path, name);
      const shown = `${parent}/${name}`;
      await sendEntry(source, { path, shown, depth: entry.depth + 1, ancestors: entry.ancestors });
    }
  }
}

async function sendDirectory(
  source: Source,
  entry: Entry & { name: string; stat: FileStat },
): Promise<void> {
  const { wire, vfs } = source;
  if (entry.depth >= MAX_DEPTH) return wire.warn(`${entry.shown}: directories nested too deeply`);
  let dir: VfsDir;
  let canonical: string;
  try {
    // -r follows symlinks, as OpenSSH's scp does; a link back up the tree would never end.
    canonical = await vfs.realpath(entry.path);
    if (entry.ancestors.has(canonical)) return await wire.warn(`${entry.shown}: directory loop`);
    dir = await vfs.opendir(entry.path);
  } catch (err) {
    return wire.warn(`${entry.shown}: ${errorText(err)}`);
  }
  const ancestors = new Set(entry.ancestors).add(canonical);
  try {
    if (!(await sendTimes(source, entry.stat))) return;
    await wire.send(`D${formatMode(entry.stat.mode)} 0 ${entry.name}\n`);
    if (!(await wire.readResponse())) return;
    await sendChildren(source, dir, { ...entry, ancestors });
    await wire.send('E\n');
    await wire.readResponse();
  } finally {
    await dir.close();
  }
}

async function sendEntry(source: Source, entry: Entry): Promise<void> {
  const { wire, vfs } = source;
  const name = recordName(entry.shown, entry.path);
  if (name.includes('\n')) {
    return wire.warn(`${entry.shown}: skipping, the name contains a newline`);
  }
  let stat: FileStat;
  try {
    stat = await vfs.stat(entry.path);
  } catch (err) {
    return wire.warn(`${entry.shown}: ${errorText(err)}`);
  }
  if (isDirectory(stat) && source.options.recursive) {
    return sendDirectory(source, { ...entry, name, stat });
  }
  if (!isRegularFile(stat)) return wire.warn(`${entry.shown}: not a regular file`);
  return sendFile(source, { ...entry, name });
}

export async function runSource(run: CommandRun, options: ScpOptions): Promise<CommandOutcome> {
  const vfs = await run.fs();
  const wire = new ScpWire(run.io);
  const source: Source = { wire, vfs, options };
  let firstPath: string | undefined;
  try {
    if (!(await wire.readResponse())) return { exitStatus: 1 };
    for (const word of options.paths) {
      for (const shown of await expandWord(word, { vfs, cwd: run.cwd })) {
        const path = toVirtualPath(shown, run.cwd);
        firstPath ??= path;
        await sendEntry(source, { path, shown, depth: 0, ancestors: new Set() });
      }
    }
  } catch (err) {
    if (!(err instanceof ScpProtocolError)) throw err;
    run.log.info({ reason: err.message }, 'scp download ended by the client');
    wire.errors += 1;
  }
  return { exitStatus: wire.errors > 0 ? 1 : 0, path: firstPath };
}
