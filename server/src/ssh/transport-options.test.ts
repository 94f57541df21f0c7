import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Connection } from 'ssh2';
import { connectClient, startServer } from '../../../test/ssh2/helpers.js';
import { ErrorCode, isKubesftpError } from '../errors.js';
import {
  assertTransportPatchApplied,
  channelLimits,
  connectionSocket,
  DEFAULT_CHANNEL_WINDOW_SIZE,
  nativeCryptoAvailable,
  transportPatchApplied,
} from './transport-options.js';

const require = createRequire(import.meta.url);

describe('transport options', () => {
  it('reports the native crypto binding exactly when its compiled file exists', () => {
    const ssh2Dir = path.dirname(require.resolve('ssh2/package.json'));
    const binding = path.join(ssh2Dir, 'lib/protocol/crypto/build/Release/sshcrypto.node');
    assert.equal(nativeCryptoAvailable(), existsSync(binding));
  });

  it('sees the ssh2 patch applied', () => {
    assert.equal(transportPatchApplied(), true);
    assert.doesNotThrow(() => assertTransportPatchApplied());
  });

  it('tells ssh2 modules without the patch apart', () => {
    const patchedChannel = { needsWindowAdjust: () => false };
    const patchedServer = { connectionSocket: () => undefined };
    assert.equal(transportPatchApplied({}, patchedServer), false);
    assert.equal(transportPatchApplied(patchedChannel, {}), false, 'no socket accessor');
    assert.equal(transportPatchApplied(patchedChannel, patchedServer), true);
  });

  it("gives a connection's own socket: closing it ends the client's connection", async () => {
    let ready!: (client: Connection) => void;
    const connected = new Promise<Connection>((resolve) => (ready = resolve));
    const server = await startServer({ onReady: ready });
    try {
      const client = await connectClient(server.port);
      const socket = connectionSocket(await connected);
      assert.ok(socket instanceof Socket);
      assert.equal(socket.localPort, server.port);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      socket.destroy();
      await closed;
    } finally {
      await server.close();
    }
  });

  it('refuses to start without the patch, saying how to apply it', () => {
    assert.throws(
      () => assertTransportPatchApplied(() => false),
      (err: unknown) =>
        isKubesftpError(err, ErrorCode.CONFIG_INVALID) &&
        /ssh2 is not patched: run `npm ci`.*patches\/ssh2\+1\.17\.0\.patch/.test(err.message),
    );
    assert.doesNotThrow(() => assertTransportPatchApplied(() => true));
  });

  it('defaults to a 2 MiB window and 32 KiB packets, as OpenSSH grants', () => {
    assert.deepEqual(channelLimits(), {
      channelWindowSize: DEFAULT_CHANNEL_WINDOW_SIZE,
      channelPacketSize: 32 * 1024,
    });
    assert.equal(DEFAULT_CHANNEL_WINDOW_SIZE, 2 * 1024 * 1024);
  });

  const invalid = [
    { input: { channelPacketSize: 0 }, key: 'sftpd.channel_packet_size' },
    { input: { channelPacketSize: 64 * 1024 }, key: 'sftpd.channel_packet_size' },
    { input: { channelWindowSize: 1000 }, key: 'sftpd.channel_window_size' },
    { input: { channelWindowSize: 2 ** 32 }, key: 'sftpd.channel_window_size' },
    { input: { channelWindowSize: 1.5e6 + 0.5 }, key: 'sftpd.channel_window_size' },
  ];
  for (const { input, key } of invalid) {
    it(`rejects ${JSON.stringify(input)} naming ${key}`, () => {
      assert.throws(
        () => channelLimits(input),
        (err: unknown) =>
          isKubesftpError(err, ErrorCode.CONFIG_INVALID) && err.message.startsWith(key),
      );
    });
  }
});
