/**
 * Host keys: load the configured private keys, or keep one generated key per type in the
 * config dir (id_ed25519, id_rsa, id_ecdsa) so that clients see the same host across restarts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ParsedKey } from 'ssh2';
import { generateKeyPair, parseKey } from './ssh2-server-parts.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { PRIVATE_FILE_MODE, assertPrivateMode } from '../private-files.js';

export type HostKeyType = 'ed25519' | 'rsa' | 'ecdsa';

export interface HostKeyLogger {
  info(fields: Record<string, unknown>, message: string): void;
}

export interface HostKeyOptions {
  configDir: string;
  /** Configured keys (paths relative to configDir); empty means generated defaults. */
  keys: { private_key: string }[];
  /** Which default keys to use or generate when `keys` is empty. */
  types: HostKeyType[];
  logger?: HostKeyLogger;
}

export interface HostKey {
  path: string;
  /** SSH key type name, e.g. "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256". */
  type: string;
  /** The private key file contents, as ssh2's `hostKeys` takes them. */
  key: Buffer;
  /** "SHA256:<base64>" as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

const RSA_BITS = 3072;
const ECDSA_BITS = 256;

const defaultFileNames: Record<HostKeyType, string> = {
  ed25519: 'id_ed25519',
  rsa: 'id_rsa',
  ecdsa: 'id_ecdsa',
};

export async function loadOrCreateHostKeys(opts: HostKeyOptions): Promise<HostKey[]> {
  if (opts.keys.length > 0) {
    return Promise.all(
      opts.keys.map((entry) => loadHostKey(path.resolve(opts.configDir, entry.private_key))),
    );
  }
  if (opts.types.length === 0) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      'sftpd.keys: no host keys configured and no key types to generate',
    );
  }
  const loaded: HostKey[] = [];
  // One at a time: generating RSA is slow and the keys are independent.
  for (const type of new Set(opts.types)) {
    loaded.push(await loadOrCreateDefaultKey(opts, type));
  }
  return loaded;
}

/** The fingerprint `ssh-keygen -l -E sha256` prints for a parsed key. */
export function fingerprintOf(key: ParsedKey): string {
  const digest = createHash('sha256').update(key.getPublicSSH()).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

async function loadOrCreateDefaultKey(opts: HostKeyOptions, type: HostKeyType): Promise<HostKey> {
  const keyPath = path.join(opts.configDir, defaultFileNames[type]);
  if (!(await exists(keyPath))) {
    try {
      await writeNewKey(keyPath, await generatePrivateKey(type));
    } catch (err) {
      throw invalidKey(keyPath, `cannot create: ${(err as Error).message}`, err);
    }
    const created = await loadHostKey(keyPath);
    opts.logger?.info(
      { path: keyPath, type: created.type, fingerprint: created.fingerprint },
      'generated host key',
    );
    return created;
  }
  return loadHostKey(keyPath);
}

/** The file's contents and mode, from one open file so both describe the same file. */
async function readKeyFile(keyPath: string): Promise<{ contents: Buffer; mode: number }> {
  try {
    const handle = await fs.open(keyPath, 'r');
    try {
      const { mode } = await handle.stat();
      return { contents: await handle.readFile(), mode };
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw invalidKey(keyPath, (err as NodeJS.ErrnoException).code ?? String(err), err);
  }
}

async function loadHostKey(keyPath: string): Promise<HostKey> {
  const { contents, mode } = await readKeyFile(keyPath);
  const parsed = parseKey(contents);
  if (parsed instanceof Error) throw invalidKey(keyPath, parsed.message, parsed);
  // An OpenSSH file holds one key; ssh2 returns a list for that format.
  const candidates: unknown = parsed;
  const key: ParsedKey | undefined = Array.isArray(candidates)
    ? (candidates[0] as ParsedKey | undefined)
    : parsed;
  if (!key || key.getPrivatePEM() === null) throw invalidKey(keyPath, 'not a private key');
  assertPrivateMode({ path: keyPath, mode, key: 'sftpd.keys', what: 'private host key' });
  return { path: keyPath, type: key.type, key: contents, fingerprint: fingerprintOf(key) };
}

function invalidKey(keyPath: string, reason: string, cause?: unknown): KubesftpError {
  return new KubesftpError(
    ErrorCode.CONFIG_INVALID,
    `sftpd.keys: cannot use host key ${keyPath}: ${reason}`,
    { cause },
  );
}

function generatePrivateKey(type: HostKeyType): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, pair: { private: string }): void => {
      if (err) reject(err);
      else resolve(pair.private);
    };
    if (type === 'rsa') generateKeyPair('rsa', { bits: RSA_BITS }, done);
    else if (type === 'ecdsa') generateKeyPair('ecdsa', { bits: ECDSA_BITS }, done);
    else generateKeyPair('ed25519', done);
  });
}

/**
 * Writes through a temporary file and a hard link so a reader never sees a half-written key
 * and a key another process created meanwhile is kept, not overwritten.
 */
async function writeNewKey(keyPath: string, privateKey: string): Promise<void> {
  const tmpPath = `${keyPath}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writePrivateFile(tmpPath, privateKey);
    await fs.link(tmpPath, keyPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  } finally {
    await fs.rm(tmpPath, { force: true });
  }
}

/** Creates a new file of mode 0600 exactly: the mode given to open() passes through the umask. */
async function writePrivateFile(filePath: string, contents: string): Promise<void> {
  const handle = await fs.open(filePath, 'wx', PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
    await handle.writeFile(contents);
  } finally {
    await handle.close();
  }
}

async function exists(filePath: string): Promise<boolean> {
  try {
    await fs.access(filePath);
    return true;
  } catch {
    return false;
  }
}
