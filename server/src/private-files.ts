/**
 * Files that hold secrets (the SQLite database, private host keys): created readable and
 * writable by the owner only whatever the umask, and refused at startup when others can get
 * at them.
 */
import { closeSync, fchmodSync, openSync } from 'node:fs';
import { ErrorCode, KubesftpError } from './errors.js';

export const PRIVATE_FILE_MODE = 0o600;

/**
 * Any access for others, or write access for the group. Group read is accepted because
 * Kubernetes' fsGroup makes the files of a mounted Secret group-readable.
 */
const TOO_OPEN_BITS = 0o027;

function exposure(mode: number): string {
  const others = mode & 0o007 ? ['other users can access it'] : [];
  const group = mode & 0o020 ? ['its group can write it'] : [];
  return [...others, ...group].join(' and ');
}

export interface PrivateModeCheck {
  /** The file, as the message should name it. */
  path: string;
  /** st_mode of the file (the target's, when the path is a symlink). */
  mode: number;
  /** The config key that names the file, e.g. "sftpd.keys". */
  key: string;
  /** What the file is, e.g. "host key". */
  what: string;
}

/** Throws CONFIG_INVALID naming the file, how it is exposed and the command that fixes it. */
export function assertPrivateMode(check: PrivateModeCheck): void {
  if ((check.mode & TOO_OPEN_BITS) === 0) return;
  const octal = (check.mode & 0o777).toString(8).padStart(4, '0');
  throw new KubesftpError(
    ErrorCode.CONFIG_INVALID,
    `${check.key}: the ${check.what} ${check.path} has mode ${octal}: ${exposure(check.mode)}; ` +
      `it holds secrets, so kubesftp refuses to start: run "chmod 600 ${check.path}"`,
  );
}

/**
 * Creates `filePath` empty with mode 0600 unless it exists. The explicit chmod undoes any
 * umask, which could otherwise leave the owner without write access. Returns whether it
 * created the file; other failures (a missing directory) are thrown as they are.
 */
export function createPrivateFileSync(filePath: string): boolean {
  let fd: number;
  try {
    fd = openSync(filePath, 'wx', PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
  return true;
}
