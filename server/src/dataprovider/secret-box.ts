/**
 * Account secrets at rest (the S3 `access_secret`): sealed with AES-256-GCM before any driver
 * stores them, opened only by the backend factory when a session needs them. The key comes
 * from `secrets.master_key_file` or `secrets.master_key` when one is set, else from a random key
 * the data provider keeps (shared by every server on it). A sealed value names the key it was
 * sealed with, so a server holding another key says so instead of handing S3 garbage.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { ErrorCode, KubesftpError } from '../errors.js';
import { assertPrivateMode } from '../private-files.js';
import type { DataProvider } from './types.js';

const PREFIX = '$kubesftp$aes256gcm$';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Name of the key the data provider keeps when no master key is configured. */
export const PROVIDER_KEY_NAME = 'secrets-master-key';
const MIN_MASTER_KEY_LENGTH = 16;

/** Where the master key comes from; both empty means the provider's own key. */
export interface SecretKeySettings {
  /** An absolute path (the caller resolved it against the config dir) or ''. */
  masterKeyFile: string;
  masterKey: string;
}

export const NO_MASTER_KEY: SecretKeySettings = { masterKeyFile: '', masterKey: '' };

function keyFrom(material: string | Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', material, 'kubesftp', 'account secrets', 32));
}

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** True for a value sealed by a SecretBox (with whatever key). */
export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

export class SecretBox {
  readonly #loadKey: () => Promise<Buffer>;
  #key: Promise<Buffer> | undefined;

  constructor(loadKey: () => Promise<Buffer>) {
    this.#loadKey = loadKey;
  }

  #currentKey(): Promise<Buffer> {
    this.#key ??= this.#loadKey().catch((err: unknown) => {
      this.#key = undefined;
      throw err;
    });
    return this.#key;
  }

  /** The sealed form of `plain`; a fresh IV every time. */
  async seal(plain: string): Promise<string> {
    const key = await this.#currentKey();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${keyId(key)}$${iv.toString('base64url')}$${body.toString('base64url')}`;
  }

  /**
   * The clear text of a sealed value. A value stored before secrets were sealed is returned as
   * it is. Throws FAILURE naming the key when the value was sealed with another key or altered.
   */
  async open(value: string): Promise<string> {
    if (!isSealed(value)) return value;
    const [id, iv, body] = value.slice(PREFIX.length).split('$');
    const key = await this.#currentKey();
    if (id !== keyId(key)) {
      throw new KubesftpError(
        ErrorCode.FAILURE,
        `a secret was sealed with key ${id ?? '?'} but this server holds key ${keyId(key)}: ` +
          'configure the same secrets.master_key_file or master_key, or set the secret again',
      );
    }
    const data = Buffer.from(body ?? '', 'base64url');
    if (data.length < TAG_BYTES) throw altered();
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv ?? '', 'base64url'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = decipher.update(data.subarray(0, data.length - TAG_BYTES));
      return Buffer.concat([plain, decipher.final()]).toString('utf8');
    } catch (err) {
      throw altered(err);
    }
  }

  /** Seals clear text; a sealed value is kept after checking that this key opens it. */
  async sealIfClear(value: string): Promise<string> {
    if (value === '') return value;
    if (!isSealed(value)) return this.seal(value);
    try {
      await this.open(value);
    } catch (err) {
      throw new KubesftpError(
        ErrorCode.INVALID_ARGUMENT,
        `filesystem.s3config.access_secret: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return value;
  }
}

function altered(cause?: unknown): KubesftpError {
  return new KubesftpError(ErrorCode.FAILURE, 'a sealed secret does not open: it was altered', {
    cause,
  });
}

async function readKeyFile(path: string): Promise<string> {
  const info = await stat(path).catch((err: unknown) => {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `secrets.master_key_file: cannot read ${path}: ${(err as Error).message}`,
    );
  });
  assertPrivateMode({ path, mode: info.mode, key: 'secrets.master_key_file', what: 'master key' });
  return (await readFile(path, 'utf8')).trim();
}

function checkedMaterial(material: string, key: string): string {
  if (material.length < MIN_MASTER_KEY_LENGTH) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${key}: the master key must be at least ${MIN_MASTER_KEY_LENGTH} characters`,
    );
  }
  return material;
}

/**
 * A SecretBox for the configured key: the key file, else the key text, else a random key that
 * `provider` keeps (created once, shared by every server on it). Loaded on first use.
 */
export function secretBoxFor(
  settings: SecretKeySettings,
  provider: Pick<DataProvider, 'getOrCreateSecret'>,
): SecretBox {
  return new SecretBox(async () => {
    if (settings.masterKeyFile !== '') {
      const text = await readKeyFile(settings.masterKeyFile);
      return keyFrom(checkedMaterial(text, 'secrets.master_key_file'));
    }
    if (settings.masterKey !== '') {
      return keyFrom(checkedMaterial(settings.masterKey, 'secrets.master_key'));
    }
    const kept = await provider.getOrCreateSecret(PROVIDER_KEY_NAME, () =>
      randomBytes(32).toString('base64'),
    );
    return keyFrom(Buffer.from(kept, 'base64'));
  });
}
