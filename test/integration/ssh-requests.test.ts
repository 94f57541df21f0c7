/**
 * Requests the server does not serve end at once with a reason the client shows, never in a
 * hang: commands and shells, unknown subsystems, an SFTP session whose home cannot be opened.
 * Also the per-connection bound on session channels, the SFTP handle bound taken from the
 * settings, and the refused forwardings.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { Client, ClientChannel } from 'ssh2';
import { createDataProvider } from '../../server/src/dataprovider/index.js';
import { newUser } from '../../server/src/dataprovider/test-support.js';
import type { DataProvider } from '../../server/src/dataprovider/types.js';
import { MemoryVfs } from '../../server/src/vfs/memory.js';
import { makeKeyPair, runSsh, sftpBatch, sshOptions } from './harness.js';
import { startInProcessSsh, type InProcessSsh } from './in-process-ssh.js';

const MAX_CHANNELS = 3;
/** What the server side of a failed home holds; none of it may reach the client. */
const INTERNAL_DETAIL = 'bucket kubesftp-homes unreachable at 10.1.2.3';

function connectClient(port: number, privateKey: Buffer): Promise<Client> {
  return new Promise((done, fail) => {
    const client = new ssh2.Client();
    client.once('ready', () => done(client));
    client.once('error', fail);
    client.connect({
      host: '127.0.0.1',
      port,
      username: 'dave',
      privateKey,
      agent: '/nonexistent',
      // Lets the client ask for OpenSSH extensions (streamlocal) of a server named otherwise.
      strictVendor: false,
    });
  });
}

function openSftpChannel(client: Client): Promise<ClientChannel> {
  return new Promise((done, fail) =>
    // Read what comes, or the channel never ends and never reports its close.
    client.subsys('sftp', (err, channel) => (err ? fail(err) : done(channel.resume()))),
  );
}

function execWith(client: Client, options: ssh2.ExecOptions): Promise<Error | undefined> {
  return new Promise((done) =>
    client.exec('true', options, (err, channel) => {
      if (err) return done(err);
      channel.on('close', () => done(undefined)).resume();
      channel.stderr.resume();
    }),
  );
}

describe('SSH requests the server refuses or bounds', { timeout: 90_000 }, () => {
  let work: string;
  let provider: DataProvider;
  let server: InProcessSsh;
  let keyPath: string;
  const ssh = (username: string, ...args: string[]) =>
    runSsh(
      [
        ...sshOptions(server.port, { username, keyPath }, '-p'),
        ...args.map((a) => a.replace('@', `${username}@`)),
      ],
      { cwd: work },
    );

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-requests-'));
    provider = await createDataProvider({ driver: 'memory', name: '', configDir: work });
    await provider.initialize();
    const key = await makeKeyPair(work, 'ed25519');
    keyPath = key.privatePath;
    for (const username of ['dave', 'nohome']) {
      await provider.addUser(
        newUser({ username, public_keys: [key.publicKey], home_dir: join(work, username) }),
      );
    }
    server = await startInProcessSsh({
      provider,
      configDir: work,
      settings: { maxChannelsPerConnection: MAX_CHANNELS, sftpLimits: { maxOpenHandles: 2 } },
      openUserFs: (user) =>
        user.username === 'nohome'
          ? Promise.reject(new Error(INTERNAL_DETAIL))
          : Promise.resolve(new MemoryVfs()),
    });
  });

  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('without a command service, a command gets a message on stderr and exit status 1', async () => {
    const result = await ssh('dave', '@127.0.0.1', 'ls -l /');
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /kubesftp: this server does not run commands/);
    assert.ok(result.ms < 10_000, `took ${result.ms} ms`);
  });

  test('a shell gets the same message; a required terminal is refused', async () => {
    const plain = await ssh('dave', '-T', '@127.0.0.1');
    assert.equal(plain.code, 1, plain.stderr);
    assert.match(plain.stderr, /kubesftp: interactive shells are not available/);
    // A terminal asked for with -tt is required: OpenSSH gives up when it is refused.
    const withPty = await ssh('dave', '-tt', '@127.0.0.1');
    assert.equal(withPty.code, 255, withPty.stderr);
    assert.match(withPty.stderr, /PTY allocation request failed/);
    assert.ok(withPty.ms < 10_000, `took ${withPty.ms} ms`);
  });

  test('a subsystem other than sftp is refused with a message', async () => {
    const result = await ssh('dave', '-s', '@127.0.0.1', 'netconf');
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /kubesftp: this server only serves the sftp subsystem/);
  });

  test('sftp to a home that cannot be opened ends at once with a safe message', async () => {
    const started = Date.now();
    const result = await sftpBatch(server.port, { username: 'nohome', keyPath }, ['ls'], {
      cwd: work,
      timeoutMs: 15_000,
    });
    const ms = Date.now() - started;
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /kubesftp: your home directory cannot be opened now/);
    assert.doesNotMatch(result.stdout + result.stderr, /bucket|10\.1\.2\.3/);
    assert.ok(ms < 10_000, `took ${ms} ms`);
    const logged = server.logs.find((l) => l.msg === 'unable to open the user home');
    assert.match(String((logged?.err as { message?: string })?.message), /bucket kubesftp-homes/);
  });

  test(`at most ${MAX_CHANNELS} session channels are open on one connection`, async () => {
    const client = await connectClient(server.port, await readFile(keyPath));
    try {
      const channels = await Promise.all(
        Array.from({ length: MAX_CHANNELS }, () => openSftpChannel(client)),
      );
      await assert.rejects(openSftpChannel(client), /open failure|failure/i);
      const closed = new Promise((r) => channels[0]!.once('close', r));
      channels[0]!.close();
      await closed;
      await openSftpChannel(client);
    } finally {
      client.end();
    }
  });

  test('pty, X11 and agent forwarding requests and port forwarding are refused', async () => {
    const client = await connectClient(server.port, await readFile(keyPath));
    try {
      assert.match(String(await execWith(client, { pty: true })), /pseudo-terminal/);
      assert.match(String(await execWith(client, { x11: true })), /X11/);
      assert.match(
        String(await execWith(client, { agentForward: true } as ssh2.ExecOptions)),
        /agent forwarding/,
      );
      const forwarded = await new Promise<Error | undefined>((done) =>
        client.forwardOut('127.0.0.1', 1234, '127.0.0.1', server.port, (err) => done(err)),
      );
      assert.match(String(forwarded), /open failure|prohibited/i);
      const unixSocket = await new Promise<Error | undefined>((done) =>
        client.openssh_forwardOutStreamLocal('/run/docker.sock', (err) => done(err)),
      );
      assert.match(String(unixSocket), /open failure|prohibited/i);
    } finally {
      client.end();
    }
  });

  test('an SFTP session takes its open-handle bound from the server settings', async () => {
    const client = await connectClient(server.port, await readFile(keyPath));
    try {
      const sftp = await new Promise<ssh2.SFTPWrapper>((done, fail) =>
        client.sftp((err, wrapper) => (err ? fail(err) : done(wrapper))),
      );
      const open = (path: string) =>
        new Promise<Buffer>((done, fail) =>
          sftp.open(path, 'w', (err, handle) => (err ? fail(err) : done(handle))),
        );
      await open('/one');
      await open('/two');
      await assert.rejects(open('/three'));
    } finally {
      client.end();
    }
  });
});
