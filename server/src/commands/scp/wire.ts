/**
 * The rcp/SCP wire format, which OpenSSH never specified beyond its source: control records
 * ("C0644 12 name", "D0755 0 dir", "E", "T<mtime> 0 <atime> 0") each on one line, answered
 * by one byte: 0 for "go on", 1 plus a line for a warning (this file failed, the rest goes
 * on), 2 plus a line for a fatal error.
 */
import { ErrorCode, KubesftpError } from '../../errors.js';
import { InputReader, writeOut, type CommandIo } from '../io.js';

const OK = 0;
const WARNING = 1;
const FATAL = 2;
/** OpenSSH reads control records into a 2048-byte buffer; a file name fits in it. */
const MAX_RECORD = 8192;

export type ScpRecord =
  | { kind: 'file'; mode: number; size: number; name: string }
  | { kind: 'dir'; mode: number; size: number; name: string }
  | { kind: 'times'; mtime: number; atime: number }
  | { kind: 'end' }
  | { kind: 'warning'; message: string }
  | { kind: 'fatal'; message: string };

/** The peer broke the protocol or ended it: the transfer stops here. */
export class ScpProtocolError extends KubesftpError {
  constructor(message: string) {
    super(ErrorCode.INVALID_ARGUMENT, message);
  }
}

const FILE_OR_DIR = /^([CD])([0-7]{4}) (\d+) (.*)$/su;
const TIMES = /^T(\d+) (\d+) (\d+) (\d+)$/;

function parseRecord(line: string): ScpRecord {
  const type = line[0];
  if (type === 'E' && line.length === 1) return { kind: 'end' };
  if (line.startsWith('\x01')) return { kind: 'warning', message: line.slice(1) };
  if (line.startsWith('\x02')) return { kind: 'fatal', message: line.slice(1) };
  const entry = FILE_OR_DIR.exec(line);
  if (entry !== null) {
    const size = Number(entry[3]);
    if (!Number.isSafeInteger(size)) throw new ScpProtocolError('size out of range');
    const fields = { mode: Number.parseInt(entry[2]!, 8), size, name: entry[4]! };
    return entry[1] === 'C' ? { kind: 'file', ...fields } : { kind: 'dir', ...fields };
  }
  const times = TIMES.exec(line);
  if (times !== null) {
    const [mtime, , atime] = times.slice(1).map(Number) as [number, number, number];
    if (!Number.isSafeInteger(mtime) || !Number.isSafeInteger(atime)) {
      throw new ScpProtocolError('time out of range');
    }
    return { kind: 'times', mtime, atime };
  }
  throw new ScpProtocolError(`expected a control record, got ${JSON.stringify(line.slice(0, 40))}`);
}

/** Octal mode as the records carry it: four digits, permission bits only. */
export function formatMode(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/** One side of an SCP exchange over the exec channel's stdin and stdout. */
export class ScpWire {
  readonly input: InputReader;
  readonly #io: CommandIo;
  /** Warnings sent or received: any makes the exit status 1. */
  errors = 0;

  constructor(io: CommandIo) {
    this.#io = io;
    this.input = new InputReader(io.input, io.releaseInput);
  }

  /** `written` runs once the channel is done with `data` (see writeOut). */
  send(data: Buffer | string, written?: () => void): Promise<void> {
    return writeOut(this.#io, data, written);
  }

  ack(): Promise<void> {
    return this.send(Buffer.of(OK));
  }

  /** This file or directory failed; the peer goes on with the next one. */
  warn(message: string): Promise<void> {
    this.errors += 1;
    return this.send(Buffer.concat([Buffer.of(WARNING), Buffer.from(`scp: ${message}\n`)]));
  }

  /** The transfer cannot go on; the peer stops. */
  fatal(message: string): Promise<void> {
    this.errors += 1;
    return this.send(Buffer.concat([Buffer.of(FATAL), Buffer.from(`scp: ${message}\n`)]));
  }

  /** The next control record, or undefined when the peer ended its input. */
  async readRecord(): Promise<ScpRecord | undefined> {
    const line = await this.input.readLine(MAX_RECORD);
    return line === undefined ? undefined : parseRecord(line);
  }

  /**
   * The peer's answer to what we sent: true to go on, false after a warning (skip this one).
   * A fatal answer or the end of input throws.
   */
  async readResponse(): Promise<boolean> {
    const first = await this.input.read(1);
    if (first.length === 0) throw new ScpProtocolError('the client closed the transfer');
    if (first[0] === OK) return true;
    const message = await this.input.readLine(MAX_RECORD);
    if (first[0] === WARNING) {
      this.errors += 1;
      return false;
    }
    throw new ScpProtocolError(
      first[0] === FATAL ? (message ?? 'fatal error') : 'unexpected response byte',
    );
  }
}
