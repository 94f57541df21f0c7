import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { parseShellWords } from '../shell-words.js';
import { parseScpOptions } from './options.js';
import { formatMode, ScpProtocolError, ScpWire } from './wire.js';

function wireFrom(input: string | Buffer): { wire: ScpWire; sent: () => string } {
  const stream = new PassThrough();
  stream.end(input);
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on('data', (chunk: Buffer) => chunks.push(chunk));
  const wire = new ScpWire({ input: stream, output, errors: new PassThrough() });
  return { wire, sent: () => Buffer.concat(chunks).toString('latin1') };
}

test('records parse as OpenSSH writes them; names keep spaces and unicode', async () => {
  const { wire } = wireFrom(
    'T1700000000 0 1600000000 0\nC0644 12 a b \u00e9.txt\nD0755 0 dir\nE\n\x01scp: x: denied\n',
  );
  assert.deepEqual(await wire.readRecord(), {
    kind: 'times',
    mtime: 1700000000,
    atime: 1600000000,
  });
  assert.deepEqual(await wire.readRecord(), {
    kind: 'file',
    mode: 0o644,
    size: 12,
    name: 'a b \u00e9.txt',
  });
  assert.deepEqual(await wire.readRecord(), { kind: 'dir', mode: 0o755, size: 0, name: 'dir' });
  assert.deepEqual(await wire.readRecord(), { kind: 'end' });
  assert.deepEqual(await wire.readRecord(), { kind: 'warning', message: 'scp: x: denied' });
  assert.equal(await wire.readRecord(), undefined);
});

test('malformed records and fatal answers end the transfer', async () => {
  for (const line of [
    'X\n',
    'C644 1 a\n',
    'C0644 -1 a\n',
    'C0644 99999999999999999999 a\n',
    'T1 2\n',
  ]) {
    await assert.rejects(wireFrom(line).wire.readRecord(), ScpProtocolError, JSON.stringify(line));
  }
  await assert.rejects(wireFrom('\x02scp: gone\n').wire.readResponse(), /gone/);
  await assert.rejects(wireFrom('').wire.readResponse(), ScpProtocolError);
  const warned = wireFrom('\x01scp: skip\n\0');
  assert.equal(await warned.wire.readResponse(), false);
  assert.equal(await warned.wire.readResponse(), true);
  assert.equal(warned.wire.errors, 1);
});

test('answers: 0, or 1/2 with an scp: line', async () => {
  const { wire, sent } = wireFrom('');
  await wire.ack();
  await wire.warn('a: Permission denied');
  await wire.fatal('protocol error');
  assert.equal(sent(), '\0\x01scp: a: Permission denied\n\x02scp: protocol error\n');
  assert.equal(formatMode(0o104755), '0755');
});

test('options as OpenSSH passes them, grouped or not; one target for -t', () => {
  const sink = parseScpOptions(parseShellWords('-v -r -p -d -t -- /in').slice(0));
  assert.deepEqual(
    { ...sink, paths: sink.paths.map((p) => p.value) },
    {
      direction: 'sink',
      recursive: true,
      preserve: true,
      targetIsDirectory: true,
      paths: ['/in'],
    },
  );
  const source = parseScpOptions(parseShellWords("-prf 'a b' -c"));
  assert.equal(source.direction, 'source');
  assert.deepEqual(
    source.paths.map((p) => p.value),
    ['a b', '-c'],
    'options end at the first path',
  );
  assert.throws(() => parseScpOptions(parseShellWords('-t a b')), /ambiguous target/);
  assert.throws(() => parseScpOptions(parseShellWords('a host:b')), /-t or -f/);
  assert.throws(() => parseScpOptions(parseShellWords('-t -f a')), /-t or -f/);
  assert.throws(() => parseScpOptions(parseShellWords('-S prog -t a')), /unsupported option -S/);
});
