/**
 * `scp -t`: the client uploads. Every file and directory goes through the session's policy
 * layer (permissions, quota with the size the record announces, upload mode, transfer log);
 * a refused entry is answered with a warning and the client goes on with the next one, as
 * OpenSSH's own scp does.
 */
import { isKubesftpError } from '../../errors.js';
import { isDirectory, type FileStat, type Vfs, type VfsFile } from '../../vfs/types.js';
import { childPath, toVirtualPath } from '../../vfs/virtual-path.js';
import type { InputReader } from '../io.js';
import { errorText } from '../messages.js';
import type { CommandOutcome, CommandRun } from '../types.js';
import { expandWord } from '../wildcards.js';
import { BatchWriter } from './batch-writer.js';
import type { ScpOptions } from './options.js';
import { ScpProtocolError, ScpWire, type ScpRecord } from './wire.js';

const UPLOAD = {
  read: false,
  write: true,
  append: false,
  create: true,
  truncate: true,
  exclusive: false,
};
/** Directory levels one upload may nest. */
const MAX_DEPTH = 256;
const CHUNK = 1024 * 1024;

type Entry = Extract<ScpRecord, { kind: 'file' | 'dir' }>;
type Times = Extract<ScpRecord, { kind: 'times' }>;

interface Sink {
  wire: ScpWire;
  vfs: Vfs;
  options: ScpOptions;
}

/** Where records at one level land: inside a directory, or at the target path itself. */
interface Level {
  path: string;
  /** The path as the client named it, for messages. */
  shown: string;
  isDir: boolean;
  depth: number;
  /** Runs when the level's "E" arrives, before it is answered (a directory's -p times). */
  onEnd?: () => Promise<string | undefined>;
}

async function statOrUndefined(vfs: Vfs, path: string): Promise<FileStat | undefined> {
  try {
    return await vfs.stat(path);
  } catch (err) {
    if (isKubesftpError(err, 'NO_SUCH_FILE')) return undefined;
    throw err;
  }
}

/** A name a record may carry: one path element, never "." or "..". */
function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) {
    throw new ScpProtocolError(`unexpected filename: ${name}`);
  }
}

/** The -p attributes of an entry; undefined when there is nothing to set. */
function preserved(sink: Sink, entry: Entry, times: Times | undefined): object | undefined {
  const mode = sink.options.preserve ? { mode: entry.mode & 0o777 } : {};
  const stamps = times === undefined ? {} : { atime: times.atime, mtime: times.mtime };
  const attrs = { ...mode, ...stamps };
  return Object.keys(attrs).length === 0 ? undefined : attrs;
}

/** Applies -p attributes; returns the warning to send when it failed. */
async function applyPreserved(
  sink: Sink,
  target: { path: string; shown: string; attrs: object | undefined },
): Promise<string | undefined> {
  if (target.attrs === undefined) return undefined;
  try {
    await sink.vfs.setstat(target.path, target.attrs);
    return undefined;
  } catch (err) {
    return `${target.shown}: set mode or times: ${errorText(err)}`;
  }
}

async function receiveData(input: InputReader, size: number, file: VfsFile): Promise<BatchWriter> {
  const writer = new BatchWriter(file, (chunk) => input.release(chunk));
  for (let remaining = size; remaining > 0;) {
    const chunk = await input.read(Math.min(remaining, CHUNK));
    if (chunk.length === 0) throw new ScpProtocolError('the client ended inside a file');
    remaining -= chunk.length;
    await writer.push(chunk);
  }
  await writer.flush();
  return writer;
}

async function receiveFile(
  sink: Sink,
  entry: Entry & { path: string; shown: string; times: Times | undefined },
): Promise<void> {
  const { wire, vfs } = sink;
  let file: VfsFile;
  try {
    file = await vfs.open(
      entry.path,
      UPLOAD,
      { mode: entry.mode & 0o777 },
      { expectedSize: entry.size },
    );
  } catch (err) {
    return wire.warn(`${entry.shown}: ${errorText(err)}`);
  }
  await wire.ack();
  let writer: BatchWriter;
  try {
    writer = await receiveData(wire.input, entry.size, file);
  } catch (err) {
    await file.abort();
    throw err;
  }
  // The client's word on its side of the data: a read error there spoils the file too.
  const sent = await wire.readResponse().catch(async (err: unknown) => {
    await file.abort();
    throw err;
  });
  if (writer.failed || !sent) {
    await file.abort();
    return writer.failed ? wire.warn(`${entry.shown}: ${errorText(writer.error)}`) : wire.ack();
  }
  try {
    await file.close();
  } catch (err) {
    return wire.warn(`${entry.shown}: ${errorText(err)}`);
  }
  const attrs = preserved(sink, entry, entry.times);
  const warning = await applyPreserved(sink, { path: entry.path, shown: entry.shown, attrs });
  return warning === undefined ? wire.ack() : wire.warn(warning);
}

async function receiveDirectory(
  sink: Sink,
  entry: Entry & { path: string; shown: string; times: Times | undefined; depth: number },
): Promise<void> {
  const { wire, vfs } = sink;
  if (!sink.options.recursive) throw new ScpProtocolError('received a directory without -r');
  if (entry.depth >= MAX_DEPTH) throw new ScpProtocolError('directories nested too deeply');
  try {
    const existing = await statOrUndefined(vfs, entry.path);
    if (existing !== undefined && !isDirectory(existing))
      return await wire.warn(`${entry.shown}: Not a directory`);
    // Owner rwx while its files arrive, as OpenSSH does for a read-only source directory.
    if (existing === undefined) await vfs.mkdir(entry.path, { mode: (entry.mode | 0o700) & 0o777 });
  } catch (err) {
    return wire.warn(`${entry.shown}: ${errorText(err)}`);
  }
  await wire.ack();
  const attrs = preserved(sink, entry, entry.times);
  await receiveLevel(sink, {
    path: entry.path,
    shown: entry.shown,
    isDir: true,
    depth: entry.depth + 1,
    onEnd: () => applyPreserved(sink, { path: entry.path, shown: entry.shown, attrs }),
  });
}

async function endLevel(sink: Sink, level: Level): Promise<void> {
  if (level.depth === 0) throw new ScpProtocolError('unexpected end of directory');
  const warning = await level.onEnd?.();
  return warning === undefined ? sink.wire.ack() : sink.wire.warn(warning);
}

/** The client gave up with a fatal error of its own: nothing more to answer. */
class ClientGaveUp extends Error {}

/** Reads records until this level's "E", or the end of input at the top. */
async function receiveLevel(sink: Sink, level: Level): Promise<void> {
  let times: Times | undefined;
  for (;;) {
    const record = await sink.wire.readRecord();
    if (record === undefined) {
      if (level.depth > 0) throw new ScpProtocolError('the client ended inside a directory');
      return;
    }
    if (record.kind === 'end') return endLevel(sink, level);
    if (record.kind === 'fatal') throw new ClientGaveUp(record.message);
    if (record.kind === 'warning') {
      sink.wire.errors += 1;
      continue;
    }
    if (record.kind === 'times') {
      times = record;
      await sink.wire.ack();
      continue;
    }
    checkName(record.name);
    const path = level.isDir ? childPath(level.path, record.name) : level.path;
    const shown = level.isDir ? `${level.shown.replace(/\/+$/, '')}/${record.name}` : level.shown;
    const placed = { ...record, path, shown, times, depth: level.depth };
    if (record.kind === 'dir') await receiveDirectory(sink, placed);
    else await receiveFile(sink, placed);
    times = undefined;
  }
}

/** The target the client named, expanded like the remote shell would; several is an error. */
async function targetOf(run: CommandRun, options: ScpOptions, vfs: Vfs): Promise<string> {
  const names = await expandWord(options.paths[0]!, { vfs, cwd: run.cwd });
  if (names.length !== 1) throw new ScpProtocolError('ambiguous target');
  return names[0]!;
}

export async function runSink(run: CommandRun, options: ScpOptions): Promise<CommandOutcome> {
  const vfs = await run.fs();
  const wire = new ScpWire(run.io);
  const sink: Sink = { wire, vfs, options };
  let path: string | undefined;
  try {
    const shown = await targetOf(run, options, vfs);
    path = toVirtualPath(shown, run.cwd);
    await wire.ack();
    const target = await statOrUndefined(vfs, path).catch(() => undefined);
    const isDir = target !== undefined && isDirectory(target);
    if (options.targetIsDirectory && !isDir) {
      await wire.fatal(`${shown}: Not a directory`);
    } else {
      await receiveLevel(sink, { path, shown, isDir, depth: 0 });
    }
  } catch (err) {
    if (err instanceof ClientGaveUp) wire.errors += 1;
    else if (err instanceof ScpProtocolError) {
      run.log.info({ reason: err.message }, 'scp upload ended by a protocol error');
      await wire.fatal(err.message).catch(() => undefined);
    } else throw err;
  }
  return { exitStatus: wire.errors > 0 ? 1 : 0, path };
}
