/**
 * A `kubesftp serve` with SSH commands enabled and one account, driven by real clients: ssh,
 * scp -O, rsync, git, rclone. When the tests run as root the account gets its own uid, since
 * system commands never run as root; its home and fixtures are then owned by that uid.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeKeyPair,
  sshOptions,
  startServer,
  type ClientResult,
  type RunningServer,
} from './harness.js';

/** The account's ids when the tests run as root. */
export const ACCOUNT_ID = 4242;
export const runningAsRoot = process.getuid?.() === 0;

export interface CommandsFixture {
  server: RunningServer;
  work: string;
  home: string;
  keyPath: string;
  username: string;
  /** `ssh -p PORT ...options` as one string, for `rsync -e` and GIT_SSH_COMMAND. */
  sshCommand: string;
  /** Runs `ssh user@127.0.0.1 <remote command>`, stdin from `input`. */
  ssh(remoteCommand: string, input?: Buffer | string): Promise<ClientResult>;
  /** Runs a local program in the work directory (git, rsync, scp, rclone, coreutils). */
  run(
    file: string,
    args: string[],
    options?: { input?: Buffer | string; env?: NodeJS.ProcessEnv; cwd?: string },
  ): Promise<ClientResult>;
  /** The account's quota usage as the REST API reports it. */
  usage(): Promise<{ size: number; files: number }>;
  /** Gives a path inside the home to the account, as files made through the server are. */
  own(path: string): Promise<void>;
  stop(): Promise<void>;
}

export function runProgram(
  file: string,
  args: string[],
  options: { cwd: string; input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<ClientResult> {
  return new Promise((done) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function chownTree(path: string): Promise<void> {
  const stat = await lstat(path);
  await chown(path, ACCOUNT_ID, ACCOUNT_ID).catch(() => undefined);
  if (!stat.isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name));
}

export async function startCommandsFixture(options: {
  enabled: string;
  user?: Record<string, unknown>;
  env?: Record<string, string>;
}): Promise<CommandsFixture> {
  const work = await mkdtemp(join(tmpdir(), 'kubesftp-cmds-'));
  // The account's uid must reach its home through the work directory.
  await chmod(work, 0o755);
  const home = join(work, 'home');
  const server = await startServer({
    KUBESFTP_SFTPD__ENABLED_SSH_COMMANDS: options.enabled,
    ...options.env,
  });
  const key = await makeKeyPair(work, 'ed25519');
  const username = 'carol';
  const created = await server.api('POST', '/api/v1/user', {
    username,
    public_keys: [key.publicKey],
    home_dir: home,
    permissions: { '/': ['*'] },
    status: 1,
    ...(runningAsRoot ? { uid: ACCOUNT_ID, gid: ACCOUNT_ID } : {}),
    ...options.user,
  });
  if (created.status !== 201) throw new Error(`user not created: ${JSON.stringify(created.body)}`);
  await mkdir(home, { recursive: true, mode: 0o700 });
  const baseArgs = sshOptions(server.sftpPort, { username, keyPath: key.privatePath }, '-p');
  const fixture: CommandsFixture = {
    server,
    work,
    home,
    keyPath: key.privatePath,
    username,
    sshCommand: ['ssh', ...baseArgs].join(' '),
    ssh: (remoteCommand, input) =>
      runProgram('ssh', [...baseArgs, `${username}@127.0.0.1`, remoteCommand], {
        cwd: work,
        input,
      }),
    run: (file, args, runOptions = {}) =>
      runProgram(file, args, {
        cwd: runOptions.cwd ?? work,
        input: runOptions.input,
        env: runOptions.env,
      }),
    usage: async () => {
      const listed = await server.api('GET', `/api/v1/user?username=${username}`);
      const user = (listed.body as unknown as Record<string, number>[])[0]!;
      return { size: user.used_quota_size!, files: user.used_quota_files! };
    },
    own: async (path) => {
      if (runningAsRoot) await chownTree(path);
    },
    stop: async () => {
      await server.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
  await fixture.own(home);
  return fixture;
}

/** A digest of a tree: every entry's path, type, mode, size, mtime and content. */
export async function treeDigest(root: string): Promise<string> {
  const hash = createHash('sha256');
  const visit = async (path: string, shown: string): Promise<void> => {
    const stat = await lstat(path);
    hash.update(`${shown}|${stat.mode}|${stat.size}|${stat.mtimeMs}|${stat.uid}\n`);
    if (stat.isFile()) hash.update(await readFile(path));
    if (!stat.isDirectory()) return;
    for (const name of (await readdir(path)).sort())
      await visit(join(path, name), `${shown}/${name}`);
  };
  await visit(root, '');
  return hash.digest('hex');
}

/** Waits until the server has logged a line that `match` accepts (log lines arrive a little late). */
export async function loggedLine(
  server: RunningServer,
  match: (line: Record<string, unknown>) => boolean,
  timeoutMs = 2500,
): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < timeoutMs / 50; i += 1) {
    const found = server.logLines.find(match);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}
