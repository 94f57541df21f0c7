import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createLogger, REDACTED, type LoggerOptions } from './logger.js';
import { rotatedNamePattern } from './rotation.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kubesftp-log-'));
  dirs.push(dir);
  return dir;
}

const BIG: Omit<LoggerOptions, 'filePath'> = {
  maxSizeMB: 10,
  maxBackups: 5,
  maxAgeDays: 28,
  compress: false,
  verbose: true,
};

function parseLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

test('each category writes its spec fields with string level and ISO time', async () => {
  const filePath = path.join(await tempDir(), 'kubesftp.log');
  const logger = createLogger({ ...BIG, filePath });
  logger.child('sftpd').info('listening');
  logger.child('sftpd').debug('detail');
  logger.logTransfer({
    sender: 'Upload',
    elapsed_ms: 12,
    size_bytes: 65536,
    username: 'alice',
    file_path: '/home/alice/a.bin',
    connection_id: 'c1',
    protocol: 'SFTP',
  });
  logger.logCommand({
    sender: 'Chmod',
    username: 'alice',
    file_path: '/a',
    filemode: 0o100644,
    connection_id: 'c1',
    protocol: 'SFTP',
  });
  logger.logCommand({
    sender: 'Chtimes',
    username: 'alice',
    file_path: '/a',
    access_time: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
    modification_time: new Date(Date.UTC(2023, 11, 31, 23, 59, 59)),
    connection_id: 'c1',
    protocol: 'SCP',
  });
  logger.logConnectionFailed({ username: '', client_ip: '127.0.0.1', login_type: 'no_auth_tryed' });
  await logger.close();

  const [app, debug, transfer, chmod, chtimes, failed] = parseLines(
    await readFile(filePath, 'utf8'),
  );
  for (const line of [app, debug, transfer, chmod, chtimes, failed]) {
    assert.match(String(line?.time), ISO_MS);
    assert.equal(typeof line?.level, 'string');
  }
  assert.deepEqual(
    { ...app, time: 0 },
    { level: 'info', time: 0, sender: 'sftpd', message: 'listening' },
  );
  assert.equal(debug?.level, 'debug');
  assert.deepEqual(
    { ...transfer, time: 0 },
    {
      level: 'info',
      time: 0,
      sender: 'Upload',
      elapsed_ms: 12,
      size_bytes: 65536,
      username: 'alice',
      file_path: '/home/alice/a.bin',
      connection_id: 'c1',
      protocol: 'SFTP',
    },
  );
  assert.deepEqual(
    { ...chmod, time: 0 },
    {
      level: 'info',
      time: 0,
      sender: 'Chmod',
      username: 'alice',
      file_path: '/a',
      target_path: '',
      filemode: '0644',
      uid: -1,
      gid: -1,
      access_time: '',
      modification_time: '',
      ssh_command: '',
      connection_id: 'c1',
      protocol: 'SFTP',
    },
  );
  assert.equal(chtimes?.access_time, '2024-01-02T03:04:05');
  assert.equal(chtimes?.modification_time, '2023-12-31T23:59:59');
  assert.deepEqual(
    { ...failed, time: 0 },
    {
      level: 'info',
      time: 0,
      sender: 'connection_failed',
      username: '',
      client_ip: '127.0.0.1',
      login_type: 'no_auth_tryed',
      error: '',
    },
  );
});

test('verbose off drops debug lines', async () => {
  const filePath = path.join(await tempDir(), 'quiet.log');
  const logger = createLogger({ ...BIG, filePath, verbose: false });
  logger.child('app').debug('hidden');
  logger.child('app').info('shown');
  await logger.close();
  assert.deepEqual(
    parseLines(await readFile(filePath, 'utf8')).map((line) => line.message),
    ['shown'],
  );
});

test('secrets never reach the log, at the top level, nested, or in bindings', async () => {
  const filePath = path.join(await tempDir(), 'secret.log');
  const logger = createLogger({ ...BIG, filePath });
  const secrets = [
    'pw-top',
    'pw-nested',
    's3-secret',
    'Bearer abc.def',
    'tok-1',
    'key-material',
    'pw-bound',
  ];
  logger.child('httpd').info(
    {
      password: secrets[0],
      user: { username: 'bob', password: secrets[1], filesystem: { access_secret: secrets[2] } },
      req: { headers: { authorization: secrets[3] } },
      token: secrets[4],
      key: { private_key: secrets[5] },
    },
    'request',
  );
  logger.child('dataprovider').child({ password: secrets[6] }).info('bound');
  await logger.close();
  const text = await readFile(filePath, 'utf8');
  for (const secret of secrets) assert.ok(!text.includes(secret), `leaked ${secret}`);
  const [first, second] = parseLines(text);
  assert.equal(first?.password, REDACTED);
  assert.deepEqual(first?.user, {
    username: 'bob',
    password: REDACTED,
    filesystem: { access_secret: REDACTED },
  });
  assert.equal(second?.password, REDACTED);
});

test('the file rotates by size, keeps maxBackups gzipped backups, and loses no recent line', async () => {
  const dir = await tempDir();
  const filePath = path.join(dir, 'kubesftp.log');
  const logger = createLogger({
    ...BIG,
    filePath,
    maxSizeMB: 2 / 1024,
    maxBackups: 2,
    compress: true,
  });
  const app = logger.child('load');
  const payload = 'x'.repeat(150);
  const total = 60;
  for (let seq = 0; seq < total; seq += 1) {
    app.info({ seq, payload }, 'line');
    // Let rotations run between writes as a live server would.
    if (seq % 5 === 4) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await logger.close();
  await new Promise((resolve) => setTimeout(resolve, 200));

  const pattern = rotatedNamePattern(filePath);
  const rotated = (await readdir(dir)).filter((name) => pattern.test(name)).sort();
  assert.ok(rotated.length >= 1 && rotated.length <= 2, `rotated: ${rotated.join(', ')}`);
  const seen: number[] = [];
  for (const name of rotated) {
    assert.ok(name.endsWith('.log.gz'), name);
    const plain = gunzipSync(await readFile(path.join(dir, name)));
    assert.ok(plain.length <= 2048 + 400, `${name} holds ${plain.length} bytes`);
    seen.push(...parseLines(plain.toString('utf8')).map((line) => Number(line.seq)));
  }
  const live = parseLines(await readFile(filePath, 'utf8'));
  seen.push(...live.map((line) => Number(line.seq)));
  // What survives is a contiguous run of the newest lines, ending with the last one written.
  assert.equal(seen.at(-1), total - 1);
  assert.deepEqual(
    seen,
    seen.map((_, i) => total - seen.length + i),
  );
  assert.ok(seen.length < total, 'older backups beyond maxBackups were removed');
});

test('rotated files older than maxAgeDays are deleted, newer ones and other files are kept', async () => {
  const dir = await tempDir();
  const filePath = path.join(dir, 'kubesftp.log');
  const old = path.join(dir, 'kubesftp-2020-01-01T00-00-00.000Z.log.gz');
  const recent = path.join(dir, 'kubesftp-2020-01-02T00-00-00.000Z-2.log');
  const unrelated = path.join(dir, 'other-2020-01-01T00-00-00.000Z.log');
  for (const file of [old, recent, unrelated]) await writeFile(file, 'x');
  const longAgo = new Date(Date.now() - 40 * 24 * 3600 * 1000);
  await utimes(old, longAgo, longAgo);
  await utimes(unrelated, longAgo, longAgo);
  const logger = createLogger({ ...BIG, filePath, maxAgeDays: 28 });
  logger.child('app').info('start');
  await logger.close();
  const names = await readdir(dir);
  assert.ok(!names.includes(path.basename(old)), 'old rotated file removed');
  assert.ok(names.includes(path.basename(recent)), 'recent rotated file kept');
  assert.ok(names.includes(path.basename(unrelated)), 'unrelated file kept');
});
