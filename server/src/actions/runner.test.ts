import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { ActionCall } from './calls.js';
import { notifyHttp, runProgram } from './hooks.js';
import { ActionQueue } from './queue.js';
import { ActionRunner, registerActionMetrics } from './runner.js';

const call: ActionCall = {
  action: 'upload',
  username: 'alice',
  args: ['upload', 'alice', '/srv/a b.txt', '', ''],
  env: { SFTPGO_ACTION: 'upload', SFTPGO_ACTION_PATH: '/srv/a b.txt' },
  query: { action: 'upload', path: '/srv/a b.txt&x=1' },
};

async function script(body: string): Promise<{ dir: string; program: string; out: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kubesftp-actions-'));
  const program = join(dir, 'hook.sh');
  const out = join(dir, 'out');
  await writeFile(program, `#!/bin/sh\n${body.replaceAll('OUT', out)}\n`);
  await chmod(program, 0o755);
  return { dir, program, out };
}

test('a program gets each argument as one word and the variables, never a shell line', async () => {
  const s = await script(
    'for a in "$@"; do printf "[%s]" "$a" >> OUT; done; echo "$SFTPGO_ACTION_PATH" >> OUT; echo out; echo err >&2',
  );
  try {
    const injected = { ...call, args: ['upload', '$(touch /tmp/x)', '; rm -rf /', '', ''] };
    assert.deepEqual(await runProgram(s.program, injected, 5_000), { result: 'ok' });
    assert.equal(
      await readFile(s.out, 'utf8'),
      '[upload][$(touch /tmp/x)][; rm -rf /][][]/srv/a b.txt\n',
    );
  } finally {
    await rm(s.dir, { recursive: true, force: true });
  }
});

test('a program is killed with what it started after the time limit; a failure says how', async () => {
  const s = await script('sleep 30 & echo $! > OUT; wait');
  try {
    const started = Date.now();
    const outcome = await runProgram(s.program, call, 300);
    assert.equal(outcome.result, 'timeout');
    assert.ok(Date.now() - started < 5_000);
    const child = Number((await readFile(s.out, 'utf8')).trim());
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await running(child), false, 'the sleep it started is gone too');
    const failing = await script('exit 3');
    assert.deepEqual(await runProgram(failing.program, call, 5_000), {
      result: 'failed',
      detail: 'exit 3',
    });
    await rm(failing.dir, { recursive: true, force: true });
    const missing = await runProgram(join(s.dir, 'missing'), call, 5_000);
    assert.equal(missing.result, 'failed');
  } finally {
    await rm(s.dir, { recursive: true, force: true });
  }
});

/** False once the process is gone or a zombie (killed, waiting for whoever reaps orphans). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== '' && state !== 'Z' && state !== 'X';
}

async function receiver(status = 200): Promise<{
  url: string;
  requests: { method: string; url: string; body: string }[];
  authorizations: string[];
  close(): Promise<void>;
}> {
  const requests: { method: string; url: string; body: string }[] = [];
  const authorizations: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      if (req.headers.authorization !== undefined) authorizations.push(req.headers.authorization);
      res.statusCode = status;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook?token=abc`,
    requests,
    authorizations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test('a notification is a GET with percent-encoded parameters, or a POST with the body', async () => {
  const r = await receiver();
  try {
    assert.deepEqual(await notifyHttp(r.url, call, 5_000), { result: 'ok' });
    const post = { ...call, query: { action: 'add' }, body: '{"username":"alice"}' };
    assert.deepEqual(await notifyHttp(r.url, post, 5_000), { result: 'ok' });
    assert.deepEqual(r.requests, [
      {
        method: 'GET',
        url: '/hook?token=abc&action=upload&path=%2Fsrv%2Fa+b.txt%26x%3D1',
        body: '',
      },
      { method: 'POST', url: '/hook?token=abc&action=add', body: '{"username":"alice"}' },
    ]);
    const withCredentials = r.url.replace('http://', 'http://hook%40user:s3cret@');
    assert.deepEqual(await notifyHttp(withCredentials, call, 5_000), { result: 'ok' });
    assert.deepEqual(r.authorizations, [
      `Basic ${Buffer.from('hook@user:s3cret').toString('base64')}`,
    ]);
  } finally {
    await r.close();
  }
  const refused = await receiver(500);
  try {
    assert.deepEqual(await notifyHttp(refused.url, call, 5_000), {
      result: 'failed',
      detail: 'HTTP 500',
    });
  } finally {
    await refused.close();
  }
});

function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino(sink), lines };
}

async function counted(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('kubesftp_actions_total')!.get();
  return Object.fromEntries(
    metric.values.map((v) => [`${v.labels.section}/${v.labels.hook}/${v.labels.result}`, v.value]),
  );
}

test('only listed events run; a full queue drops hooks, counted and logged once per burst', async () => {
  const s = await script('echo "$1" >> OUT; sleep 0.3');
  const r = await receiver();
  const registry = new Registry();
  const { log, lines } = capture();
  const queue = new ActionQueue({ concurrency: 1, capacity: 1 });
  const runner = new ActionRunner({
    section: 'sftpd',
    settings: { execute_on: ['upload'], command: s.program, http_notification_url: r.url },
    queue,
    log,
    metrics: registerActionMetrics(registry),
    commandTimeoutMs: 5_000,
    httpTimeoutMs: 5_000,
  });
  try {
    assert.equal(runner.handles('upload'), true);
    assert.equal(runner.handles('download'), false);
    runner.fire({ ...call, action: 'download' });
    for (let i = 0; i < 5; i++) runner.fire(call);
    await queue.drained();
    assert.deepEqual(await counted(registry), {
      'sftpd/command/ok': 1,
      'sftpd/http/ok': 1,
      'sftpd/command/dropped': 4,
      'sftpd/http/dropped': 4,
    });
    assert.equal(await readFile(s.out, 'utf8'), 'upload\n');
    const drops = lines.filter((l) => l.msg === 'actions dropped: too many waiting');
    assert.equal(drops.length, 1);
    assert.equal(drops[0]!.dropped, 1);
  } finally {
    await r.close();
    await rm(s.dir, { recursive: true, force: true });
  }
});

test('a failed hook is logged without the URL and counted', async () => {
  const registry = new Registry();
  const { log, lines } = capture();
  const queue = new ActionQueue({ concurrency: 1, capacity: 10 });
  const runner = new ActionRunner({
    section: 'data_provider',
    settings: {
      execute_on: ['upload'],
      command: '',
      http_notification_url: 'http://user:hunter2@127.0.0.1:1/hook',
    },
    queue,
    log,
    metrics: registerActionMetrics(registry),
    commandTimeoutMs: 5_000,
    httpTimeoutMs: 5_000,
  });
  runner.fire(call);
  await queue.drained();
  assert.deepEqual(await counted(registry), { 'data_provider/http/failed': 1 });
  const failed = lines.find((l) => l.msg === 'action failed');
  assert.equal(failed?.hook, 'http');
  assert.equal(failed?.username, 'alice');
  assert.doesNotMatch(JSON.stringify(lines), /hunter2/);
});
