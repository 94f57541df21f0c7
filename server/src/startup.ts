/**
 * Startup is all or nothing: each part that started is recorded, and when a later part
 * fails the recorded ones are closed, newest first, before the error goes on to the caller.
 */
import { isIPv6 } from 'node:net';
import { ErrorCode, KubesftpError } from './errors.js';

export interface StartupLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

interface StartedPart {
  name: string;
  close(): Promise<void>;
}

export class StartedParts {
  readonly #log: StartupLog;
  readonly #parts: StartedPart[] = [];

  constructor(log: StartupLog) {
    this.#log = log;
  }

  add(name: string, close: () => Promise<void>): void {
    this.#parts.push({ name, close });
  }

  /** Closes every part, newest first; a part that fails to close is logged, not rethrown. */
  async closeAll(): Promise<void> {
    for (const part of this.#parts.splice(0).reverse()) {
      try {
        await part.close();
        this.#log.info({ part: part.name }, 'closed after a failed start');
      } catch (err) {
        this.#log.warn({ part: part.name, err }, 'could not close after a failed start');
      }
    }
  }
}

const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use',
  EADDRNOTAVAIL: 'the address is not one of this host',
  EACCES: 'permission denied (ports below 1024 need privileges)',
};

export interface ListenTarget {
  /** Config section, e.g. "sftpd"; its bind_address and bind_port keys are named. */
  section: string;
  /** Empty means every interface. */
  address: string;
  port: number;
}

function describeAddress(target: ListenTarget): string {
  if (target.address === '') return `port ${target.port} of every interface`;
  const host = isIPv6(target.address) ? `[${target.address}]` : target.address;
  return `${host}:${target.port}`;
}

/** A listen() failure as the operator needs it: which listener, which address, why, what to change. */
export function listenFailure(target: ListenTarget, err: unknown): KubesftpError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    (code !== undefined ? LISTEN_REASONS[code] : undefined) ??
    (err instanceof Error ? err.message : String(err));
  const suffix = code === undefined ? '' : ` (${code})`;
  return new KubesftpError(
    ErrorCode.FAILURE,
    `${target.section}: cannot listen on ${describeAddress(target)}: ${reason}${suffix}; ` +
      `check ${target.section}.bind_address and ${target.section}.bind_port`,
    { cause: err },
  );
}
