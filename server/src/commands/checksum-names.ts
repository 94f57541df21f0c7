/**
 * The checksum commands' names and protocol, apart from their code in checksum.ts: the
 * dispatcher lists them from here and loads the hashing only when one runs.
 */
import type { Protocol } from '../session/types.js';

export const CHECKSUM_COMMAND_PROTOCOLS = {
  md5sum: 'SSH',
  sha1sum: 'SSH',
  sha256sum: 'SSH',
  sha384sum: 'SSH',
  sha512sum: 'SSH',
} as const satisfies Record<string, Protocol>;

export type ChecksumCommandName = keyof typeof CHECKSUM_COMMAND_PROTOCOLS;
