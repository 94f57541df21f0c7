/**
 * Custom actions against `kubesftp serve`: real OpenSSH sftp, scp and ssh clients, a shell
 * script as the action program (it appends its arguments and variables to a file) and a
 * node:http receiver on loopback as the notification URL. Accounts go through the REST API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../testbed/wait.js';
import {
  askpassEnv,
  runSsh,
  scp,
  sftpBatch,
  sha256File,
  sshOptions,
  startServer,
  type ClientAuth,
  type RunningServer,
} from './harness.js';

interface Notification {
  method: string;
  path: string;
  query: Record<string, string>;
  body: string;
}

const FILE_HOOK = `#!/bin/sh
printf '%s|%s|%s|%s|%s|size=%s|local=%s|env=%s\\n' "$1" "$2" "$3" "$4" "$5" \\
  "$SFTPGO_ACTION_FILE_SIZE" "$SFTPGO_ACTION_LOCAL_FILE" "$SFTPGO_ACTION" >> "$(dirname "$0")/file-actions"
echo "never shown to a client"
`;
const USER_HOOK = `#!/bin/sh
printf '%s|%s|%s|%s|%s|%s|%s|%s|env=%s:%s\\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" \\
  "$SFTPGO_USER_ACTION" "$SFTPGO_USER_HOME_DIR" >> "$(dirname "$0")/user-actions"
`;

async function program(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  await chmod(path, 0o755);
  return path;
}

async function receiver(): Promise<{ server: Server; url: string; seen: Notification[] }> {
  const seen: Notification[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      seen.push({
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        body,
      });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}`, seen };
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('custom actions with real clients', { timeout: 300_000 }, () => {
  let server: RunningServer;
  let http: Awaited<ReturnType<typeof receiver>>;
  let work: string;
  let hooks: string;
  let home: string;
  let aliceId: number;
  const alice: ClientAuth = { username: 'alice', password: 'alice-password-1' };

  const fileLines = async (): Promise<string[]> =>
    (await readFile(join(hooks, 'file-actions'), 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line !== '');
  const userLines = async (): Promise<string[]> =>
    (await readFile(join(hooks, 'user-actions'), 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line !== '');
  /** Waits until the action program has written `line`. */
  const fileLine = (line: string): Promise<true> =>
    waitFor(
      `file action ${line}`,
      async () => ((await fileLines()).includes(line) ? true : undefined),
      15_000,
      async () => (await fileLines()).join('\n'),
    );
  const notified = (what: string, match: (n: Notification) => boolean): Promise<Notification> =>
    waitFor(
      what,
      () => http.seen.find(match),
      15_000,
      () => Promise.resolve(JSON.stringify(http.seen, null, 1)),
    );

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-actions-'));
    hooks = join(work, 'hooks');
    home = join(work, 'home', 'alice');
    await mkdir(hooks);
    http = await receiver();
    server = await startServer({
      KUBESFTP_SFTPD__ENABLED_SSH_COMMANDS: 'sha256sum,pwd,scp',
      KUBESFTP_SFTPD__ACTIONS__EXECUTE_ON: 'upload,download,delete,rename,ssh_cmd',
      KUBESFTP_SFTPD__ACTIONS__COMMAND: await program(hooks, 'file-hook.sh', FILE_HOOK),
      KUBESFTP_SFTPD__ACTIONS__HTTP_NOTIFICATION_URL: `${http.url}/files?token=t%26k`,
      KUBESFTP_DATA_PROVIDER__ACTIONS__EXECUTE_ON: 'add,update,delete',
      KUBESFTP_DATA_PROVIDER__ACTIONS__COMMAND: await program(hooks, 'user-hook.sh', USER_HOOK),
      KUBESFTP_DATA_PROVIDER__ACTIONS__HTTP_NOTIFICATION_URL: `${http.url}/users`,
    });
    const created = await server.api('POST', '/api/v1/user', {
      username: 'alice',
      password: alice.password,
      home_dir: home,
      permissions: { '/': ['*'] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    aliceId = created.body?.id as number;
  });

  after(async () => {
    await server?.stop();
    await new Promise((resolve) => http?.server.close(resolve));
    await rm(work, { recursive: true, force: true });
  });

  test('an account added and updated through the REST API runs the user actions, without secrets', async () => {
    const addLine = `add|alice|${aliceId}|1|0|${home}|0|0|env=add:${home}`;
    await waitFor('the add action', async () =>
      (await userLines()).includes(addLine) ? true : undefined,
    );
    const added = await notified(
      'the add notification',
      (n) => n.path === '/users' && n.query.action === 'add',
    );
    assert.equal(added.method, 'POST');
    assert.equal(added.path, '/users');
    const json = JSON.parse(added.body) as Record<string, unknown>;
    assert.equal(json.username, 'alice');
    assert.equal(json.home_dir, home);
    assert.equal('password' in json, false);
    assert.doesNotMatch(added.body, /argon2|alice-password-1/);

    const updated = await server.api('PUT', `/api/v1/user/${aliceId}`, {
      quota_files: 1000,
      filesystem: {
        provider: 0,
        s3config: { bucket: 'b', access_key: 'AK', access_secret: 'super-secret-s3-key' },
      },
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    const update = await notified(
      'the update notification',
      (n) => n.path === '/users' && n.query.action === 'update',
    );
    assert.equal((JSON.parse(update.body) as { quota_files: number }).quota_files, 1000);
    assert.doesNotMatch(update.body, /super-secret-s3-key|access_secret|argon2|"password"/);
    await waitFor('the update action', async () =>
      (await userLines()).some((l) => l.startsWith('update|alice|')) ? true : undefined,
    );
  });

  test('sftp upload, download, rename and remove each run the file actions once they succeed', async () => {
    const data = randomBytes(100_000);
    await writeFile(join(work, 'up.bin'), data);
    const result = await sftpBatch(
      server.sftpPort,
      alice,
      ['put up.bin', 'get up.bin down.bin', 'rename up.bin moved.bin', 'rm moved.bin'],
      { cwd: work },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sha256File(join(work, 'down.bin')), sha256(data));
    const size = data.length;
    await fileLine(`upload|alice|${home}/up.bin|||size=${size}|local=true|env=upload`);
    await fileLine(`download|alice|${home}/up.bin|||size=${size}|local=true|env=download`);
    await fileLine(`rename|alice|${home}/up.bin|${home}/moved.bin||size=|local=true|env=rename`);
    await fileLine(`delete|alice|${home}/moved.bin|||size=${size}|local=true|env=delete`);
    const upload = await notified(
      'the upload notification',
      (n) => n.path === '/files' && n.query.action === 'upload',
    );
    assert.equal(upload.method, 'GET');
    assert.equal(upload.path, '/files');
    assert.deepEqual(upload.query, {
      token: 't&k',
      action: 'upload',
      username: 'alice',
      path: `${home}/up.bin`,
      local_file: 'true',
      file_size: String(size),
    });
    const rename = await notified(
      'the rename notification',
      (n) => n.path === '/files' && n.query.action === 'rename',
    );
    assert.equal(rename.query.target_path, `${home}/moved.bin`);
    assert.equal('file_size' in rename.query, false);
  });

  test('scp runs upload and download, not ssh_cmd', async () => {
    const data = randomBytes(70_000);
    await writeFile(join(work, 'scp-up.bin'), data);
    const target = `alice@127.0.0.1`;
    const up = await scp(server.sftpPort, alice, ['-O', 'scp-up.bin', `${target}:scp.bin`], {
      cwd: work,
    });
    assert.equal(up.code, 0, up.stderr);
    const down = await scp(server.sftpPort, alice, ['-O', `${target}:scp.bin`, 'scp-down.bin'], {
      cwd: work,
    });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(await sha256File(join(work, 'scp-down.bin')), sha256(data));
    await fileLine(`upload|alice|${home}/scp.bin|||size=${data.length}|local=true|env=upload`);
    await fileLine(`download|alice|${home}/scp.bin|||size=${data.length}|local=true|env=download`);
    assert.equal(
      (await fileLines()).some((l) => l.startsWith('ssh_cmd|') && l.endsWith('|scp|')),
      false,
    );
  });

  test('an SSH command that succeeds runs ssh_cmd; one that fails runs nothing', async () => {
    const env = await askpassEnv(work, alice.password);
    const ssh = (command: string): ReturnType<typeof runSsh> =>
      runSsh([...sshOptions(server.sftpPort, alice, '-p'), 'alice@127.0.0.1', command], {
        cwd: work,
        env,
      });
    const hashed = await ssh('sha256sum scp.bin');
    assert.equal(hashed.code, 0, hashed.stderr);
    assert.doesNotMatch(hashed.stdout + hashed.stderr, /never shown/);
    assert.equal((await ssh('sha256sum missing.bin')).code, 1);
    await fileLine(`ssh_cmd|alice|${home}/scp.bin||sha256sum|size=|local=true|env=ssh_cmd`);
    const cmd = await notified(
      'the ssh_cmd notification',
      (n) => n.path === '/files' && n.query.action === 'ssh_cmd',
    );
    assert.equal(cmd.query.ssh_cmd, 'sha256sum');
    assert.equal((await ssh('pwd')).code, 0);
    await fileLine(`ssh_cmd|alice|${home}||pwd|size=|local=true|env=ssh_cmd`);
    assert.equal(
      (await fileLines()).some((l) => l.includes('missing.bin')),
      false,
      'the failed command ran no action',
    );
  });

  test('an upload refused for quota runs nothing', async () => {
    const bob: ClientAuth = { username: 'bob', password: 'bob-password-1' };
    const created = await server.api('POST', '/api/v1/user', {
      username: 'bob',
      password: bob.password,
      home_dir: join(work, 'home', 'bob'),
      permissions: { '/': ['*'] },
      quota_size: 10_000,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await writeFile(join(work, 'big.bin'), randomBytes(200_000));
    const failed = await sftpBatch(server.sftpPort, bob, ['put big.bin'], { cwd: work });
    assert.notEqual(failed.code, 0, 'the upload is refused');
    const failedScp = await scp(server.sftpPort, bob, ['-O', 'big.bin', 'bob@127.0.0.1:b2.bin'], {
      cwd: work,
    });
    assert.notEqual(failedScp.code, 0);
    // A later success shows the queue has run what came before it.
    await writeFile(join(work, 'tiny.bin'), 'tiny');
    const tiny = await sftpBatch(server.sftpPort, bob, ['put tiny.bin'], { cwd: work });
    assert.equal(tiny.code, 0, tiny.stderr);
    const bobHome = join(work, 'home', 'bob');
    await fileLine(`upload|bob|${bobHome}/tiny.bin|||size=4|local=true|env=upload`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const bobs = (await fileLines()).filter((l) => l.includes('|bob|'));
    assert.deepEqual(bobs, [`upload|bob|${bobHome}/tiny.bin|||size=4|local=true|env=upload`]);
    assert.equal(
      http.seen.some((n) => n.query.username === 'bob' && n.query.path !== `${bobHome}/tiny.bin`),
      false,
    );
  });

  test('logins fire no update; a delete through the REST API runs the delete action', async () => {
    const updatesBefore = (await userLines()).filter((l) => l.startsWith('update|')).length;
    const deleted = await server.api('DELETE', `/api/v1/user/${aliceId}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    await waitFor('the delete action', async () =>
      (await userLines()).some((l) => l.startsWith(`delete|alice|${aliceId}|`)) ? true : undefined,
    );
    const gone = await notified(
      'the delete notification',
      (n) => n.path === '/users' && n.query.action === 'delete',
    );
    assert.equal((JSON.parse(gone.body) as { username: string }).username, 'alice');
    assert.doesNotMatch(gone.body, /argon2|"password"|access_secret/);
    const updates = (await userLines()).filter((l) => l.startsWith('update|'));
    assert.equal(updates.length, updatesBefore, 'sftp logins (last login, quota) fired no update');
    const failures = server.logLines.filter((l) => l.message === 'action failed');
    assert.deepEqual(failures, []);
  });
});
