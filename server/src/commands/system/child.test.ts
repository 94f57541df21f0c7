import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { SystemCommandGrant } from '../../session/system-commands.js';
import type { CommandRun } from '../types.js';
import { runChild } from './child.js';

interface Harness {
  run: CommandRun;
  home: string;
  abort(): void;
  stdout(): string;
  stderr(): string;
  input: PassThrough;
}

async function harness(): Promise<Harness> {
  const home = await mkdtemp(join(tmpdir(), 'kubesftp-child-'));
  await chmod(home, 0o755);
  const input = new PassThrough();
  const output = new PassThrough();
  const errors = new PassThrough();
  let out = '';
  let err = '';
  output.on('data', (d: Buffer) => (out += d.toString()));
  errors.on('data', (d: Buffer) => (err += d.toString()));
  const controller = new AbortController();
  const run = {
    name: 'rsync',
    args: [],
    io: { input, output, errors },
    cwd: '/',
    fs: () => Promise.reject(new Error('unused')),
    admitSystem: () => Promise.reject(new Error('unused')),
    signal: controller.signal,
    touch: () => undefined,
    log: pino({ level: 'silent' }),
  } satisfies CommandRun;
  return {
    run,
    home,
    input,
    abort: () => controller.abort(),
    stdout: () => out,
    stderr: () => err,
  };
}

function grant(home: string, inputBudget = Infinity): SystemCommandGrant {
  return { homeDir: home, maySymlink: false, inputBudget, finish: () => Promise.resolve() };
}

/** Live processes working in `dir`. */
async function processesIn(dir: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if ((await readlink(`/proc/${entry}/cwd`)) !== dir) continue;
      if (!/\) Z /.test(await readFile(`/proc/${entry}/stat`, 'utf8'))) count += 1;
    } catch {
      // Gone meanwhile.
    }
  }
  return count;
}

test('input, output, errors and the exit status are relayed; the home is the working directory', async () => {
  const h = await harness();
  try {
    h.input.end('from the client\n');
    const script = 'cat; pwd; echo oops >&2; echo "$HOME $PATH"; exit 3';
    const result = await runChild({
      run: h.run,
      grant: grant(h.home),
      file: 'sh',
      args: ['-c', script],
    });
    assert.deepEqual(result, { exitStatus: 3, overQuota: false });
    const lines = h.stdout().split('\n');
    assert.equal(lines[0], 'from the client');
    assert.equal(lines[1], h.home);
    assert.equal(
      lines[2],
      `${h.home} /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    );
    assert.equal(h.stderr(), 'oops\n');
  } finally {
    await rm(h.home, { recursive: true, force: true });
  }
});

test('aborting kills the binary and everything it forked, even when it ignores its input', async () => {
  const h = await harness();
  try {
    // Two sleepers that never read stdin, so only a kill ends them.
    const running = runChild({
      run: h.run,
      grant: grant(h.home),
      file: 'sh',
      args: ['-c', 'sleep 300 & sleep 300; wait'],
    });
    for (let i = 0; i < 50 && (await processesIn(h.home)) < 3; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(await processesIn(h.home), 3);
    h.abort();
    const result = await running;
    assert.notEqual(result.exitStatus, 0);
    for (let i = 0; i < 50 && (await processesIn(h.home)) > 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(await processesIn(h.home), 0);
  } finally {
    await rm(h.home, { recursive: true, force: true });
  }
});

test('input past the budget stops the binary and says so', async () => {
  const h = await harness();
  try {
    h.input.write(Buffer.alloc(64));
    const result = runChild({
      run: h.run,
      grant: grant(h.home, 100),
      file: 'sh',
      args: ['-c', 'cat > /dev/null; sleep 300'],
    });
    setTimeout(() => h.input.write(Buffer.alloc(64)), 100);
    assert.deepEqual(await result, { exitStatus: 1, overQuota: true });
  } finally {
    await rm(h.home, { recursive: true, force: true });
  }
});

test('a binary that is not installed is reported, not thrown', async () => {
  const h = await harness();
  try {
    h.input.end();
    const result = await runChild({
      run: h.run,
      grant: grant(h.home),
      file: 'no-such-binary-here',
      args: [],
    });
    assert.equal(result.exitStatus, 1);
    assert.equal(h.stderr(), 'rsync: not available on this server\n');
  } finally {
    await rm(h.home, { recursive: true, force: true });
  }
});
