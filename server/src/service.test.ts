/**
 * startService in this process: a part that cannot start leaves nothing open behind it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from './config/load.js';
import { startService, type ServiceLogging } from './service.js';
import { assertTransportPatchApplied } from './ssh/transport-options.js';

function captureLogging(): { logging: ServiceLogging; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback): void {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      callback();
    },
  });
  const root = pino({ level: 'info' }, sink);
  const logging: ServiceLogging = {
    component: (sender) => root.child({ sender }),
    events: { transfer: () => undefined, command: () => undefined },
    connectionFailed: () => undefined,
  };
  return { logging, lines };
}

/** A server holding a loopback port, as another program would. */
async function holdPort(): Promise<Server> {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  return holder;
}

async function freePort(): Promise<number> {
  const probe = await holdPort();
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Resolves true when something accepts a TCP connection on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startService', () => {
  let configDir = '';
  beforeEach(() => {
    configDir = mkdtempSync(path.join(tmpdir(), 'kubesftp-service-'));
  });
  afterEach(() => rmSync(configDir, { recursive: true, force: true }));

  async function start(
    ports: { sftp: number; http: number },
    checkTransport?: () => void,
  ): Promise<{ service: Awaited<ReturnType<typeof startService>>; lines: object[] }> {
    const loaded = await loadConfig({
      configDir,
      env: {
        KUBESFTP_SFTPD__BIND_ADDRESS: '127.0.0.1',
        KUBESFTP_SFTPD__BIND_PORT: String(ports.sftp),
        KUBESFTP_SFTPD__HOST_KEY_TYPES: 'ed25519',
        KUBESFTP_HTTPD__BIND_ADDRESS: '127.0.0.1',
        KUBESFTP_HTTPD__BIND_PORT: String(ports.http),
      },
    });
    const { logging, lines } = captureLogging();
    const service = await startService({
      loaded,
      logging,
      adminPassword: 'service-test-admin',
      announce: () => undefined,
      ...(checkTransport ? { checkTransport } : {}),
    });
    return { service, lines };
  }

  it('closes the SFTP listener and the provider when the HTTP port is taken', async () => {
    const holder = await holdPort();
    const httpPort = (holder.address() as { port: number }).port;
    const sftpPort = await freePort();
    try {
      await assert.rejects(start({ sftp: sftpPort, http: httpPort }), (err: Error) => {
        assert.match(
          err.message,
          new RegExp(`^httpd: cannot listen on 127\\.0\\.0\\.1:${httpPort}: `),
        );
        assert.match(err.message, /already in use \(EADDRINUSE\)/);
        return true;
      });
      assert.equal(await accepts(sftpPort), false, 'the SFTP port is not left listening');
      // SQLite removes the write-ahead log when its last connection closes.
      assert.ok(existsSync(path.join(configDir, 'kubesftp.db')));
      assert.equal(existsSync(path.join(configDir, 'kubesftp.db-wal')), false);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('closes the provider and names the address when the SFTP port is taken', async () => {
    const holder = await holdPort();
    const sftpPort = (holder.address() as { port: number }).port;
    try {
      await assert.rejects(start({ sftp: sftpPort, http: await freePort() }), (err: Error) =>
        err.message.startsWith(`sftpd: cannot listen on 127.0.0.1:${sftpPort}: `),
      );
      assert.equal(existsSync(path.join(configDir, 'kubesftp.db-wal')), false);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('refuses to start without the ssh2 patch, before opening anything', async () => {
    await assert.rejects(
      start({ sftp: 0, http: 0 }, () => assertTransportPatchApplied(() => false)),
      /ssh2 is not patched/,
    );
    assert.equal(existsSync(path.join(configDir, 'kubesftp.db')), false);
    assert.equal(existsSync(path.join(configDir, 'id_ed25519')), false);
  });

  it('starts with the patch check passing, and stops', async () => {
    const sftpPort = await freePort();
    const httpPort = await freePort();
    const { service } = await start({ sftp: sftpPort, http: httpPort }, () =>
      assertTransportPatchApplied(() => true),
    );
    try {
      assert.equal(service.sftpPort, sftpPort);
      assert.equal(service.httpPort, httpPort);
      assert.equal(await accepts(sftpPort), true);
      assert.equal(await accepts(httpPort), true);
    } finally {
      await service.shutdown(0);
    }
    assert.equal(await accepts(sftpPort), false);
  });
});
