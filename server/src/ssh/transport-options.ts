/**
 * Transport settings that ssh2 only takes through our patch (patches/ssh2+1.17.0.patch):
 * the per-channel receive window and maximum packet size and a connection's socket, plus a
 * check that the patch is applied and whether ssh2 loaded its native crypto binding.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Connection } from 'ssh2';
import { ErrorCode, KubesftpError } from '../errors.js';

const require = createRequire(import.meta.url);

/**
 * 2 MiB, as OpenSSH and Go's x/crypto/ssh grant. Clients that size their SFTP requests from
 * our limits (256 KiB each, 64 in flight) would fill a larger window with 16 MiB of writes, and
 * buffers held that long were measured to cost more in garbage collection than they gain.
 */
export const DEFAULT_CHANNEL_WINDOW_SIZE = 2 * 1024 * 1024;
/** The transport refuses incoming packets much larger than this, so it is also the cap. */
export const MAX_CHANNEL_PACKET_SIZE = 32 * 1024;
export const DEFAULT_CHANNEL_PACKET_SIZE = MAX_CHANNEL_PACKET_SIZE;
const MAX_UINT32 = 0xffffffff;

/** The options the patched ssh2 `Server` accepts next to its own config. */
export interface ChannelLimits {
  channelWindowSize: number;
  channelPacketSize: number;
}

interface CryptoModule {
  bindingAvailable?: boolean;
  releaseIncoming?: (view: Uint8Array) => boolean;
}

export interface ChannelModule {
  needsWindowAdjust?: unknown;
}

export interface ServerModule {
  connectionSocket?: (client: Connection) => Socket | undefined;
}

const cryptoModule = require('ssh2/lib/protocol/crypto.js') as CryptoModule;
const serverModule = require('ssh2/lib/server.js') as ServerModule;

/**
 * Gives the block behind a CHANNEL_DATA payload back to the patched transport, which
 * assembles incoming packets that span socket reads in lent blocks. Call it only once nothing
 * reads the payload any more; other memory is ignored.
 */
export function releaseIncomingPacket(view: Uint8Array): void {
  cryptoModule.releaseIncoming?.(view);
}

/** True when ssh2 loaded its compiled crypto binding (faster AES-GCM and ChaCha20). */
export function nativeCryptoAvailable(): boolean {
  return cryptoModule.bindingAvailable === true;
}

/**
 * True when node_modules/ssh2 carries our patch; without it the channel options do nothing and
 * a connection's socket is out of reach. `channelModule` and `server` stand in for ssh2's
 * lib/Channel.js and lib/server.js in tests.
 */
export function transportPatchApplied(
  channelModule: ChannelModule = require('ssh2/lib/Channel.js') as ChannelModule,
  server: ServerModule = serverModule,
): boolean {
  return (
    typeof channelModule.needsWindowAdjust === 'function' &&
    typeof server.connectionSocket === 'function'
  );
}

/**
 * Fails startup when the ssh2 patch is missing, so the server never runs unprotected.
 * `isApplied` replaces the module check in tests.
 */
export function assertTransportPatchApplied(
  isApplied: () => boolean = transportPatchApplied,
): void {
  if (!isApplied()) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      'ssh2 is not patched: run `npm ci` so patch-package applies patches/ssh2+1.17.0.patch',
    );
  }
}

/**
 * Validates the channel limits and fills in defaults. `keyPrefix` names the config section
 * in errors (e.g. "sftpd").
 */
export function channelLimits(
  requested: Partial<ChannelLimits> = {},
  keyPrefix = 'sftpd',
): ChannelLimits {
  const channelPacketSize = requested.channelPacketSize ?? DEFAULT_CHANNEL_PACKET_SIZE;
  const channelWindowSize = requested.channelWindowSize ?? DEFAULT_CHANNEL_WINDOW_SIZE;
  if (!isIntegerInRange(channelPacketSize, 1, MAX_CHANNEL_PACKET_SIZE)) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${keyPrefix}.channel_packet_size: must be an integer from 1 to ${MAX_CHANNEL_PACKET_SIZE}, got ${String(channelPacketSize)}`,
    );
  }
  if (!isIntegerInRange(channelWindowSize, channelPacketSize, MAX_UINT32)) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${keyPrefix}.channel_window_size: must be an integer from ${channelPacketSize} to ${MAX_UINT32}, got ${String(channelWindowSize)}`,
    );
  }
  return { channelWindowSize, channelPacketSize };
}

function isIntegerInRange(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** The socket ssh2 reads a connection from, through the accessor our patch adds. */
export function connectionSocket(client: Connection): Socket | undefined {
  return serverModule.connectionSocket?.(client);
}
