/**
 * What the PostgreSQL and MariaDB helpers share: the Debian binaries, the unprivileged user
 * the servers run as, and a throwaway data directory that user owns.
 */
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';

export const INSTALL_HINT = 'run `make system-deps` (test/setup/install-databases.sh)';

export interface ServerUser {
  uid: number;
  gid: number;
}

/**
 * The account a database server runs as: the package's own system user when the tests run
 * as root (both servers refuse root), the current user otherwise.
 */
export async function serverUser(systemUser: string): Promise<ServerUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  const fields = passwd
    .split('\n')
    .map((line) => line.split(':'))
    .find((entry) => entry[0] === systemUser);
  if (fields === undefined) {
    throw new KubesftpError(
      ErrorCode.NOT_FOUND,
      `no system user ${systemUser} to run the database as; ${INSTALL_HINT}`,
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** A fresh directory under the temp dir, owned by the server's user. */
export async function ownedTempDir(prefix: string, user: ServerUser | undefined): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  if (user !== undefined) await chown(dir, user.uid, user.gid);
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** The newest installed PostgreSQL's bin directory (Debian keeps each major version apart). */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] === undefined) {
    throw new KubesftpError(
      ErrorCode.NOT_FOUND,
      `PostgreSQL is not installed under ${root}; ${INSTALL_HINT}`,
    );
  }
  return join(root, versions[0], 'bin');
}

export function requireBinary(path: string): string {
  if (!existsSync(path)) {
    throw new KubesftpError(ErrorCode.NOT_FOUND, `${path} is missing; ${INSTALL_HINT}`);
  }
  return path;
}
