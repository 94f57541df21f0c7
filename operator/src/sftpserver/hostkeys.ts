/**
 * SSH host keys with node:crypto alone (the operator loads no native module): generated once
 * into the host-key Secret, in formats the server's key loader reads (OpenSSH's own format for
 * ed25519, PEM for ECDSA and RSA), and read back from any Secret to give clients their
 * fingerprints and known_hosts lines.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import type { HostKeyStatus } from '../api/sftpserver.js';

const generate = promisify(generateKeyPair);

export const HOST_KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;
export type HostKeyType = (typeof HOST_KEY_TYPES)[number];

/** The Secret keys holding each private key, as OpenSSH names its host key files. */
export const HOST_KEY_FILES: Readonly<Record<HostKeyType, string>> = {
  ed25519: 'ssh_host_ed25519_key',
  ecdsa: 'ssh_host_ecdsa_key',
  rsa: 'ssh_host_rsa_key',
};

const RSA_BITS = 3072;
const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');

function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** An SSH mpint: big-endian, no leading zeros, a zero byte first when the top bit is set. */
function sshMpint(value: Buffer): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const trimmed = value.subarray(start);
  const padded = (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.of(0), trimmed]) : trimmed;
  return sshString(padded);
}

const b64url = (value: string | undefined): Buffer => Buffer.from(value ?? '', 'base64url');

/** The SSH wire form of a public key. */
export function publicKeyBlob(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return Buffer.concat([sshString('ssh-ed25519'), sshString(b64url(jwk.x))]);
  }
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') {
    const point = Buffer.concat([Buffer.of(4), b64url(jwk.x), b64url(jwk.y)]);
    return Buffer.concat([
      sshString('ecdsa-sha2-nistp256'),
      sshString('nistp256'),
      sshString(point),
    ]);
  }
  if (jwk.kty === 'RSA') {
    return Buffer.concat([sshString('ssh-rsa'), sshMpint(b64url(jwk.e)), sshMpint(b64url(jwk.n))]);
  }
  throw new Error(`unsupported host key (${jwk.kty ?? '?'} ${jwk.crv ?? ''})`);
}

function wrapPem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** An unencrypted ed25519 key in OpenSSH's format (PROTOCOL.key), the one ssh-keygen writes. */
function opensshEd25519(privateKey: KeyObject): string {
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = b64url(jwk.d);
  const pub = b64url(jwk.x);
  const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4);
  let section = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString('kubesftp host key'),
  ]);
  const padding = Buffer.from(
    Array.from({ length: (8 - (section.length % 8)) % 8 }, (_, i) => i + 1),
  );
  section = Buffer.concat([section, padding]);
  const body = Buffer.concat([
    OPENSSH_MAGIC,
    sshString('none'),
    sshString('none'),
    sshString(''),
    Buffer.from([0, 0, 0, 1]),
    sshString(blob),
    sshString(section),
  ]);
  return wrapPem('OPENSSH PRIVATE KEY', body);
}

/** A new private key of `type`, as the host-key Secret holds it. */
export async function generateHostKey(type: HostKeyType): Promise<string> {
  if (type === 'ed25519') return opensshEd25519((await generate('ed25519')).privateKey);
  if (type === 'ecdsa') {
    const { privateKey } = await generate('ec', { namedCurve: 'prime256v1' });
    return privateKey.export({ type: 'sec1', format: 'pem' }).toString();
  }
  const { privateKey } = await generate('rsa', { modulusLength: RSA_BITS });
  return privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}

/** All three host keys, keyed by their Secret keys. */
export async function generateHostKeys(): Promise<Record<string, string>> {
  const entries = await Promise.all(
    HOST_KEY_TYPES.map(
      async (type) => [HOST_KEY_FILES[type], await generateHostKey(type)] as const,
    ),
  );
  return Object.fromEntries(entries);
}

function readUint32(buffer: Buffer, offset: number): number {
  if (offset + 4 > buffer.length) throw new Error('truncated OpenSSH key');
  return buffer.readUInt32BE(offset);
}

function readString(buffer: Buffer, offset: number): { value: Buffer; next: number } {
  const length = readUint32(buffer, offset);
  const end = offset + 4 + length;
  if (end > buffer.length) throw new Error('truncated OpenSSH key');
  return { value: buffer.subarray(offset + 4, end), next: end };
}

/** The public blob of an OpenSSH-format private key; refuses encrypted keys (no passphrase in a pod). */
function opensshPublicBlob(pem: string): Buffer {
  const body = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  if (!body.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) {
    throw new Error('not an OpenSSH private key');
  }
  const cipher = readString(body, OPENSSH_MAGIC.length);
  if (cipher.value.toString('latin1') !== 'none') {
    throw new Error('the key is encrypted; the server needs it without a passphrase');
  }
  const kdf = readString(body, cipher.next);
  const kdfOptions = readString(body, kdf.next);
  if (readUint32(body, kdfOptions.next) !== 1) throw new Error('one key per file is expected');
  return readString(body, kdfOptions.next + 4).value;
}

/** The type, fingerprint and public key of a private key in any format the server reads. */
export function describeHostKey(privateKey: string): HostKeyStatus {
  const blob = privateKey.includes('BEGIN OPENSSH PRIVATE KEY')
    ? opensshPublicBlob(privateKey)
    : publicKeyBlob(createPublicKey(createPrivateKey(privateKey)));
  const type = readString(blob, 0).value.toString('latin1');
  const digest = createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  return { type, fingerprint: `SHA256:${digest}`, publicKey: `${type} ${blob.toString('base64')}` };
}

/** A known_hosts line: the host name alone on port 22, `[host]:port` otherwise. */
export function knownHostsLine(host: string, port: number, key: HostKeyStatus): string {
  const name = port === 22 ? host : `[${host}]:${port}`;
  return `${name} ${key.publicKey}`;
}
