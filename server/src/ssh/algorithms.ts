/**
 * Turns the `sftpd.kex_algorithms`, `sftpd.ciphers` and `sftpd.macs` config lists into
 * ssh2's `algorithms` option, checking every name against what the installed ssh2 supports.
 */
import { createRequire } from 'node:module';
import type { Algorithms, CipherAlgorithm, KexAlgorithm, MacAlgorithm } from 'ssh2';
import { ErrorCode, KubesftpError } from '../errors.js';

const require = createRequire(import.meta.url);

interface Ssh2Constants {
  DEFAULT_KEX: string[];
  SUPPORTED_KEX: string[];
  DEFAULT_CIPHER: string[];
  SUPPORTED_CIPHER: string[];
  DEFAULT_MAC: string[];
  SUPPORTED_MAC: string[];
}

const ssh2Constants = require('ssh2/lib/protocol/constants.js') as Ssh2Constants;

export interface AlgorithmConfig {
  kex_algorithms: string[];
  ciphers: string[];
  macs: string[];
}

/** Names ssh2 accepts for each list, as filtered by what this Node/OpenSSL can do. */
export const supportedAlgorithms = {
  kex: [...ssh2Constants.SUPPORTED_KEX],
  cipher: [...ssh2Constants.SUPPORTED_CIPHER],
  mac: [...ssh2Constants.SUPPORTED_MAC],
} as const;

/** What the server offers when a list is left empty (ssh2's defaults). */
export const defaultAlgorithms = {
  kex: [...ssh2Constants.DEFAULT_KEX],
  cipher: [...ssh2Constants.DEFAULT_CIPHER],
  mac: [...ssh2Constants.DEFAULT_MAC],
} as const;

interface ListSpec {
  key: keyof AlgorithmConfig;
  noun: string;
  supported: readonly string[];
}

/**
 * Builds ssh2's `algorithms` option. An empty list leaves that part undefined, so ssh2 uses
 * its defaults; a non-empty list is offered in the given order.
 */
export function buildAlgorithms(cfg: AlgorithmConfig, keyPrefix = 'sftpd'): Algorithms {
  const kex = checkedList(cfg, keyPrefix, {
    key: 'kex_algorithms',
    noun: 'key exchange algorithm',
    supported: supportedAlgorithms.kex,
  });
  const cipher = checkedList(cfg, keyPrefix, {
    key: 'ciphers',
    noun: 'cipher',
    supported: supportedAlgorithms.cipher,
  });
  const hmac = checkedList(cfg, keyPrefix, {
    key: 'macs',
    noun: 'MAC',
    supported: supportedAlgorithms.mac,
  });
  const algorithms: Algorithms = {};
  if (kex) algorithms.kex = kex as KexAlgorithm[];
  if (cipher) algorithms.cipher = cipher as CipherAlgorithm[];
  if (hmac) algorithms.hmac = hmac as MacAlgorithm[];
  return algorithms;
}

function checkedList(
  cfg: AlgorithmConfig,
  keyPrefix: string,
  spec: ListSpec,
): string[] | undefined {
  const names: unknown = cfg[spec.key];
  const where = `${keyPrefix}.${spec.key}`;
  if (names === undefined) return undefined;
  if (!Array.isArray(names)) {
    throw new KubesftpError(ErrorCode.CONFIG_INVALID, `${where}: must be a list of names`);
  }
  if (names.length === 0) return undefined;
  const seen = new Set<string>();
  for (const name of names) {
    if (typeof name !== 'string' || !spec.supported.includes(name)) {
      throw new KubesftpError(
        ErrorCode.CONFIG_INVALID,
        `${where}: unknown ${spec.noun} '${String(name)}'; supported: ${spec.supported.join(', ')}`,
      );
    }
    seen.add(name);
  }
  return [...seen];
}
