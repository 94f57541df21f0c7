/**
 * The process logger: pino JSON lines on stderr or in a size-rotated file. Every line carries
 * `sender`, an ISO `time` with milliseconds and a string `level`. Secrets are redacted by key
 * name wherever they appear in the first three levels of a record.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import {
  commandEntry,
  type CommandLog,
  type ConnectionFailedLog,
  type HttpLog,
  type TransferLog,
} from './records.js';
import { openRotatingFile } from './rotation.js';

export interface LoggerOptions {
  /** Log file; empty or missing logs to stderr. */
  filePath?: string;
  maxSizeMB: number;
  maxBackups: number;
  maxAgeDays: number;
  compress: boolean;
  /** Debug lines too when true; info and up otherwise. */
  verbose: boolean;
}

export interface AppLogger {
  /** The underlying pino logger, for libraries that want one (e.g. fastify's logger option). */
  readonly pino: Logger;
  /** An app logger whose lines carry `sender` (the emitting component). */
  child(sender: string): Logger;
  logTransfer(record: TransferLog): void;
  logCommand(record: CommandLog): void;
  logConnectionFailed(record: ConnectionFailedLog): void;
  logHttp(record: HttpLog): void;
  /** Flushes and closes the destination. */
  close(): Promise<void>;
}

export const REDACTED = '[REDACTED]';

const SECRET_KEYS = [
  'password',
  'passphrase',
  'access_secret',
  'secret',
  'master_key',
  'private_key',
  'privateKey',
  'token',
  'access_token',
  'refresh_token',
  'admin_token',
  'authorization',
  'cookie',
];

/** Redaction paths: each secret key at the top level and up to two objects deep. */
export const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

function destinationFor(opts: LoggerOptions): {
  stream: DestinationStream;
  close(): Promise<void>;
} {
  if (opts.filePath === undefined || opts.filePath === '') {
    const stream = pino.destination({ dest: 2, sync: true });
    return { stream, close: () => Promise.resolve(stream.flushSync()) };
  }
  return openRotatingFile({ ...opts, filePath: opts.filePath });
}

export function createLogger(opts: LoggerOptions): AppLogger {
  const destination = destinationFor(opts);
  const options = {
    level: opts.verbose ? 'debug' : 'info',
    base: undefined,
    messageKey: 'message',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const root = pino(
    { ...options, redact: { paths: REDACT_PATHS, censor: REDACTED } },
    destination.stream,
  );
  // Transfer records have fixed fields, none of them a secret key, and come once per file:
  // they skip the redaction walk (about 5% of the busy CPU time of a many-small-files upload).
  const transfers = pino(options, destination.stream);
  return {
    pino: root,
    child: (sender) => root.child({ sender }),
    logTransfer: (record) => transfers.info({ ...record }),
    logCommand: (record) => root.info(commandEntry(record)),
    logConnectionFailed: (record) =>
      root.info({ sender: 'connection_failed', ...record, error: record.error ?? '' }),
    logHttp: (record) => root.info({ sender: 'httpd', ...record }),
    close: () => destination.close(),
  };
}
