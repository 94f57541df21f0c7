/**
 * One OpenSSH authorized_keys line (`<type> <base64 blob> [comment]`, without options), parsed
 * and checked with node:crypto alone: the provider seam validates keys without loading the
 * SSH transport, and the server matches offered keys against the same parse.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { ErrorCode, KubesftpError } from '../errors.js';

export interface AuthorizedKey {
  /** Key type, e.g. `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`. */
  algo: string;
  /** The SSH wire blob of the public key. */
  data: Buffer;
  comment: string;
}

const LINE = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$/s;

const CURVES: Record<string, { name: string; crv: string; size: number }> = {
  'ecdsa-sha2-nistp256': { name: 'nistp256', crv: 'P-256', size: 32 },
  'ecdsa-sha2-nistp384': { name: 'nistp384', crv: 'P-384', size: 48 },
  'ecdsa-sha2-nistp521': { name: 'nistp521', crv: 'P-521', size: 66 },
};

export function invalidKey(reason: string): KubesftpError {
  return new KubesftpError(ErrorCode.INVALID_ARGUMENT, `invalid public key: ${reason}`);
}

/** Reads SSH wire strings from a blob; throws on a length that runs past the end. */
class WireReader {
  #offset = 0;
  constructor(private readonly blob: Buffer) {}

  bytes(): Buffer {
    if (this.#offset + 4 > this.blob.length) throw invalidKey('the key blob is truncated');
    const length = this.blob.readUInt32BE(this.#offset);
    const end = this.#offset + 4 + length;
    if (end > this.blob.length) throw invalidKey('the key blob is truncated');
    const value = this.blob.subarray(this.#offset + 4, end);
    this.#offset = end;
    return value;
  }

  /** An mpint as unsigned big-endian bytes without the sign padding. */
  unsigned(): Buffer {
    const value = this.bytes();
    let start = 0;
    while (start < value.length - 1 && value[start] === 0) start++;
    return value.subarray(start);
  }

  end(): void {
    if (this.#offset !== this.blob.length) throw invalidKey('the key blob has trailing bytes');
  }
}

const b64url = (bytes: Buffer): string => bytes.toString('base64url');

/** The key as a JWK node:crypto can check, or undefined for DSA, which JWK cannot express. */
function toJwk(algo: string, reader: WireReader): JsonWebKey | undefined {
  if (algo === 'ssh-ed25519') {
    const key = reader.bytes();
    if (key.length !== 32) throw invalidKey('an ed25519 key is 32 bytes');
    return { kty: 'OKP', crv: 'Ed25519', x: b64url(key) };
  }
  if (algo === 'ssh-rsa') {
    const e = reader.unsigned();
    return { kty: 'RSA', e: b64url(e), n: b64url(reader.unsigned()) };
  }
  const curve = CURVES[algo];
  if (curve !== undefined) {
    if (reader.bytes().toString('latin1') !== curve.name) throw invalidKey('wrong curve name');
    const point = reader.bytes();
    if (point.length !== 1 + 2 * curve.size || point[0] !== 4) {
      throw invalidKey('the curve point is not an uncompressed point of that curve');
    }
    const x = point.subarray(1, 1 + curve.size);
    const y = point.subarray(1 + curve.size);
    return { kty: 'EC', crv: curve.crv, x: b64url(x), y: b64url(y) };
  }
  if (algo === 'ssh-dss') {
    for (let i = 0; i < 4; i++) reader.unsigned();
    return undefined;
  }
  throw invalidKey(`unsupported key type ${JSON.stringify(algo)}`);
}

function checkBlob(algo: string, data: Buffer): void {
  const reader = new WireReader(data);
  if (reader.bytes().toString('latin1') !== algo) {
    throw invalidKey(`the key blob is not of type ${algo}`);
  }
  const jwk = toJwk(algo, reader);
  reader.end();
  if (jwk === undefined) return;
  try {
    createPublicKey({ key: jwk, format: 'jwk' });
  } catch (err) {
    throw invalidKey(`not a valid ${algo} key (${(err as Error).message})`);
  }
}

/** Parses one authorized_keys-style line; throws INVALID_ARGUMENT on anything else. */
export function parseAuthorizedKey(line: string): AuthorizedKey {
  const text = line.trim();
  if (text === '') throw invalidKey('the public key is empty');
  if (text.startsWith('-----')) throw invalidKey('give the public key line, not a PEM file');
  const match = LINE.exec(text);
  if (match === null)
    throw invalidKey('not an OpenSSH public key line (<type> <base64> [comment])');
  const algo = match[1] ?? '';
  const data = Buffer.from(match[2] ?? '', 'base64');
  checkBlob(algo, data);
  return { algo, data, comment: (match[3] ?? '').trim() };
}
