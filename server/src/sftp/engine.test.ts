import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { PacketBuilder, TestClient, SftpStatusError } from '../../../test/sftp/client.js';
import { startEngine, within } from '../../../test/sftp/harness.js';
import { spyVfs } from '../../../test/sftp/spy-vfs.js';
import { MemoryVfs } from '../vfs/memory.js';
import {
  MAX_DATA_LENGTH,
  MAX_NAME_REPLY_BYTES,
  MAX_OPEN_HANDLES,
  MAX_PACKET_LENGTH,
  OpenFlag,
  PacketType,
  READDIR_BATCH,
  StatusCode,
} from './constants.js';
import { sftpBlockPools } from './block-pool.js';
import { PacketReader } from './reader.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const WRITE_NEW = OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC;
const handleBytes = (handle: string): Buffer => Buffer.from(handle, 'latin1');

async function ready(options: Parameters<typeof startEngine>[0] = {}) {
  const harness = startEngine(options);
  await within(harness.client.init(), 2000, 'INIT');
  return harness;
}

async function upload(
  client: TestClient,
  path: string,
  data: Buffer,
  chunk = 32 * 1024,
): Promise<void> {
  const handle = await client.open(path, WRITE_NEW);
  const replies = [];
  for (let offset = 0; offset < data.length; offset += chunk) {
    replies.push(client.write(handle, offset, data.subarray(offset, offset + chunk)));
  }
  for (const reply of await Promise.all(replies)) TestClient.expectOk(reply);
  await client.close(handle);
}

async function download(client: TestClient, path: string): Promise<Buffer> {
  const handle = await client.open(path, OpenFlag.READ);
  const data = await client.readAll(handle);
  await client.close(handle);
  return data;
}

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return StatusCode.OK;
  } catch (err) {
    if (err instanceof SftpStatusError) return err.status;
    throw err;
  }
}

describe('engine: session start', () => {
  it('answers INIT with version 3 and every extension the memory backend supports', async () => {
    const { client, session } = startEngine();
    const { version, extensions } = await client.init();
    assert.equal(version, 3);
    assert.deepEqual(
      [...extensions],
      [
        ['posix-rename@openssh.com', '1'],
        ['statvfs@openssh.com', '2'],
        ['fstatvfs@openssh.com', '2'],
        ['hardlink@openssh.com', '1'],
        ['fsync@openssh.com', '1'],
        ['lsetstat@openssh.com', '1'],
        ['limits@openssh.com', '1'],
        ['expand-path@openssh.com', '1'],
        ['copy-data', '1'],
        ['home-directory', '1'],
        ['users-groups-by-id@openssh.com', '1'],
      ],
    );
    await session.close();
  });

  it('never advertises or serves an extension whose capability is false', async () => {
    const vfs = new MemoryVfs({
      capabilities: {
        posixRename: false,
        statvfs: false,
        hardlinks: false,
        fsync: false,
        symlinks: false,
      },
    });
    const { client, session } = startEngine({ vfs });
    const { extensions } = await client.init();
    for (const name of [
      'posix-rename@openssh.com',
      'statvfs@openssh.com',
      'fstatvfs@openssh.com',
    ]) {
      assert.equal(extensions.has(name), false, name);
    }
    assert.equal(extensions.has('hardlink@openssh.com'), false);
    assert.equal(extensions.has('fsync@openssh.com'), false);
    // Without links, lsetstat would only be setstat again (an S3 home, say).
    assert.equal(extensions.has('lsetstat@openssh.com'), false);
    assert.equal(extensions.has('limits@openssh.com'), true);
    const reply = await client.extended('statvfs@openssh.com', (b) => b.string('/'));
    assert.equal(TestClient.status(reply), StatusCode.OP_UNSUPPORTED);
    assert.equal(await client.pathStatus(PacketType.SYMLINK, 'a', 'b'), StatusCode.OP_UNSUPPORTED);
    await session.close();
  });

  it('ends the session when the first packet is not INIT', async () => {
    const { client, session, logger } = startEngine();
    client.sendRaw(new PacketBuilder(PacketType.STAT).u32(1).string('/').build());
    await within(session.closed, 2000, 'session end');
    assert.ok(logger.lines.some((line) => line.level === 'warn'));
  });

  it('ends the session on a duplicate INIT', async () => {
    const { client, session } = await ready();
    client.sendRaw(new PacketBuilder(PacketType.INIT).u32(3).build());
    await within(session.closed, 2000, 'session end');
  });
});

describe('engine: files', () => {
  it('uploads and downloads a file intact (sha256), with writes in any order', async () => {
    const { client, session } = await ready();
    const data = randomBytes(1024 * 1024 + 123);
    const handle = await client.open('/up.bin', WRITE_NEW);
    const chunk = 32 * 1024;
    const offsets = [];
    for (let offset = 0; offset < data.length; offset += chunk) offsets.push(offset);
    offsets.reverse();
    const replies = offsets.map((offset) =>
      client.write(handle, offset, data.subarray(offset, offset + chunk)),
    );
    for (const reply of await Promise.all(replies)) TestClient.expectOk(reply);
    const attrs = TestClient.attrs(
      await client.request(PacketType.FSTAT, (b) => b.string(handleBytes(handle))),
    );
    assert.equal(attrs.size, data.length);
    await client.close(handle);
    assert.equal(sha256(await download(client, 'up.bin')), sha256(data));
    await session.close();
  });

  it('keeps the order of requests on one handle even when the backend is slow and uneven', async () => {
    const vfs = spyVfs(new MemoryVfs(), {
      delay: (call) => (call.op === 'write' ? Math.floor(Math.random() * 4) : 0),
    });
    const { client, session } = await ready({ vfs });
    const handle = await client.open('/ordered', WRITE_NEW);
    const versions = Array.from({ length: 40 }, (_, i) => Buffer.alloc(4096, i));
    const replies = versions.map((version) => client.write(handle, 0, version));
    for (const reply of await Promise.all(replies)) TestClient.expectOk(reply);
    await client.close(handle);
    const writes = vfs.calls.filter((call) => call.op === 'write');
    assert.equal(writes.length, versions.length);
    assert.equal(sha256(await download(client, '/ordered')), sha256(versions.at(-1)!));
    const closeIndex = vfs.calls.findIndex((call) => call.op === 'close');
    assert.ok(closeIndex > vfs.calls.lastIndexOf(writes.at(-1)!), 'close ran after every write');
    await session.close();
  });

  it('serves many concurrent writes over several handles beyond the in-flight bound', async () => {
    const { client, session } = await ready({ limits: { maxInFlightRequests: 8 } });
    const files = Array.from({ length: 4 }, () => randomBytes(300 * 1024));
    await Promise.all(files.map((data, i) => upload(client, `/f${i}`, data, 4096)));
    for (const [i, data] of files.entries()) {
      assert.equal(sha256(await download(client, `/f${i}`)), sha256(data));
    }
    await session.close();
  });

  it('answers errors with the standard status codes', async () => {
    const { client, session } = await ready();
    assert.equal(await statusOf(client.open('/missing', OpenFlag.READ)), StatusCode.NO_SUCH_FILE);
    await upload(client, '/exists', Buffer.from('x'));
    const excl = OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL;
    assert.equal(await statusOf(client.open('/exists', excl)), StatusCode.FAILURE);
    assert.equal(await statusOf(client.read('nope', 0, 10)), StatusCode.FAILURE);
    assert.equal(await statusOf(client.stat('/missing/deeper')), StatusCode.NO_SUCH_FILE);
    assert.equal(await statusOf(client.stat('/exists/deeper')), StatusCode.NO_SUCH_FILE);
    const reply = await client.request(PacketType.READ, (b) => b.string('x').u64(0).u32(1));
    const status = reply.body.u32();
    assert.equal(reply.body.string(), 'Failure');
    assert.equal(status, StatusCode.FAILURE);
    await session.close();
  });

  it('refuses handles beyond the open-handle limit with FAILURE', async () => {
    const { client, session } = await ready({ limits: { maxOpenHandles: 3 } });
    const handles = [];
    for (let i = 0; i < 3; i++) handles.push(await client.open(`/h${i}`, WRITE_NEW));
    assert.equal(await statusOf(client.open('/h3', WRITE_NEW)), StatusCode.FAILURE);
    await client.close(handles[0]!);
    handles[0] = await client.open('/h3', WRITE_NEW);
    assert.equal(new Set(handles).size, 3);
    await session.close();
  });

  it('clamps reads to the advertised maximum and reports EOF past the end', async () => {
    const { client, session } = await ready();
    const data = randomBytes(MAX_DATA_LENGTH + 5000);
    await upload(client, '/big', data);
    const handle = await client.open('/big', OpenFlag.READ);
    const first = await client.read(handle, 0, 1024 * 1024);
    assert.equal(first?.length, MAX_DATA_LENGTH);
    assert.equal(await client.read(handle, data.length, 10), null);
    assert.equal(await client.read(handle, 2 ** 60, 10), null);
    await client.close(handle);
    await session.close();
  });
});

describe('engine: paths', () => {
  it('creates, renames, links and removes like a POSIX file system', async () => {
    const { client, session } = await ready();
    assert.equal(await client.pathStatus(PacketType.MKDIR, '/d'), StatusCode.OK);
    assert.equal(await client.pathStatus(PacketType.MKDIR, '/d'), StatusCode.FAILURE);
    const dirAttrs = await client.stat('/d');
    assert.equal(dirAttrs.permissions! & 0o170000, 0o040000);
    await upload(client, '/d/a', Buffer.from('alpha'));
    await upload(client, '/d/b', Buffer.from('bravo'));
    assert.equal(await client.pathStatus(PacketType.RENAME, '/d/a', '/d/b'), StatusCode.FAILURE);
    const posix = await client.extended('posix-rename@openssh.com', (b) =>
      b.string('/d/a').string('/d/b'),
    );
    assert.equal(TestClient.status(posix), StatusCode.OK);
    assert.equal((await download(client, '/d/b')).toString(), 'alpha');
    assert.equal(await client.pathStatus(PacketType.RENAME, '/d/b', '/d/c'), StatusCode.OK);
    // OpenSSH order: target first, then the new link.
    assert.equal(await client.pathStatus(PacketType.SYMLINK, 'c', '/d/link'), StatusCode.OK);
    const link = TestClient.names(
      await client.request(PacketType.READLINK, (b) => b.string('/d/link')),
    );
    assert.equal(link?.[0]?.filename, 'c');
    assert.equal(
      (await client.stat('/d/link', PacketType.LSTAT)).permissions! & 0o170000,
      0o120000,
    );
    assert.equal((await client.stat('/d/link')).size, 5);
    const hard = await client.extended('hardlink@openssh.com', (b) =>
      b.string('/d/c').string('/d/hard'),
    );
    assert.equal(TestClient.status(hard), StatusCode.OK);
    assert.equal((await download(client, '/d/hard')).toString(), 'alpha');
    assert.equal(await client.pathStatus(PacketType.RMDIR, '/d'), StatusCode.FAILURE);
    for (const name of ['c', 'hard', 'link']) {
      assert.equal(await client.pathStatus(PacketType.REMOVE, `/d/${name}`), StatusCode.OK);
    }
    assert.equal(await client.pathStatus(PacketType.REMOVE, '/d/c'), StatusCode.NO_SUCH_FILE);
    assert.equal(await client.pathStatus(PacketType.RMDIR, '/d'), StatusCode.OK);
    assert.deepEqual(await client.listDir('/'), ['.', '..']);
    await session.close();
  });

  it('resolves REALPATH against the home and clamps ..', async () => {
    const { client, session } = await ready();
    const realpath = async (path: string) =>
      TestClient.names(await client.request(PacketType.REALPATH, (b) => b.string(path)))?.[0]
        ?.filename;
    assert.equal(await realpath('.'), '/');
    assert.equal(await realpath(''), '/');
    assert.equal(await realpath('../../x/./y/..'), '/x');
    await client.pathStatus(PacketType.MKDIR, '/real');
    await client.pathStatus(PacketType.SYMLINK, '/real', '/alias');
    assert.equal(await realpath('/alias'), '/real');
    await session.close();
  });

  it('changes attributes with SETSTAT, FSETSTAT and lsetstat', async () => {
    const { client, session } = await ready();
    await upload(client, '/f', Buffer.from('0123456789'));
    const setstat = await client.request(PacketType.SETSTAT, (b) =>
      b.string('/f').attrs({ permissions: 0o600, atime: 1000, mtime: 2000 }),
    );
    TestClient.expectOk(setstat);
    const attrs = await client.stat('/f');
    assert.equal(attrs.permissions, 0o100600);
    assert.equal(attrs.mtime, 2000);
    const handle = await client.open('/f', OpenFlag.WRITE);
    TestClient.expectOk(
      await client.request(PacketType.FSETSTAT, (b) =>
        b.string(handleBytes(handle)).attrs({ size: 4 }),
      ),
    );
    await client.close(handle);
    assert.equal((await download(client, '/f')).toString(), '0123');
    await client.pathStatus(PacketType.SYMLINK, 'f', '/l');
    const lset = await client.extended('lsetstat@openssh.com', (b) =>
      b.string('/l').attrs({ atime: 5, mtime: 6 }),
    );
    TestClient.expectOk(lset);
    assert.equal((await client.stat('/l', PacketType.LSTAT)).mtime, 6);
    assert.equal((await client.stat('/f')).mtime, 2000);
    await session.close();
  });
});

describe('engine: directories', () => {
  /** Every NAME reply of a listing of `path`, raw, until EOF. */
  const listReplies = async (client: TestClient, path: string): Promise<Buffer[]> => {
    const handle = TestClient.handle(
      await client.request(PacketType.OPENDIR, (b) => b.string(path)),
    );
    const replies: Buffer[] = [];
    for (;;) {
      const reply = await client.request(PacketType.READDIR, (b) => b.string(handleBytes(handle)));
      if (reply.type !== PacketType.NAME) {
        assert.equal(TestClient.names(reply), null, 'the listing ends with EOF');
        break;
      }
      replies.push(Buffer.from(reply.raw));
    }
    await client.close(handle);
    return replies;
  };

  const namesOf = (raw: Buffer): { filename: string; longname: string }[] => {
    const body = new PacketReader(raw);
    body.u8();
    body.u32();
    const count = body.u32();
    const entries = Array.from({ length: count }, () => {
      const entry = { filename: body.string(), longname: body.string() };
      body.attrs();
      return entry;
    });
    assert.equal(body.failed, false);
    assert.equal(body.remaining, 0);
    return entries;
  };

  it('lists a large directory in batches of READDIR_BATCH names with . and ..', async () => {
    const vfs = new MemoryVfs();
    const { client, session } = await ready({ vfs });
    await client.pathStatus(PacketType.MKDIR, '/many');
    const names = Array.from({ length: 600 }, (_, i) => `file-${i}`);
    await Promise.all(names.map((name) => vfs.mkdir(`/many/${name}`)));
    const replies = await listReplies(client, '/many');
    const seen: string[] = [];
    for (const raw of replies) {
      const entries = namesOf(raw);
      assert.ok(entries.length <= READDIR_BATCH + 2);
      for (const entry of entries) {
        assert.match(entry.longname, /^d[rwx-]{9} +\d+ /);
        assert.ok(entry.longname.endsWith(` ${entry.filename}`));
        seen.push(entry.filename);
      }
    }
    assert.equal(replies.length, Math.ceil(names.length / READDIR_BATCH));
    assert.deepEqual(seen.sort(), ['.', '..', ...names].sort());
    await session.close();
  });

  it('keeps each READDIR reply within the packet size every client accepts', async () => {
    const vfs = new MemoryVfs();
    const { client, session } = await ready({ vfs });
    await client.pathStatus(PacketType.MKDIR, '/long');
    // 255-byte names (NAME_MAX): a batch of them is several times what one reply may carry.
    const names = Array.from({ length: 700 }, (_, i) => `${i}-`.padEnd(255, 'n'));
    await Promise.all(names.map((name) => vfs.mkdir(`/long/${name}`)));
    const replies = await listReplies(client, '/long');
    const seen: string[] = [];
    for (const raw of replies) {
      assert.ok(4 + raw.length <= MAX_NAME_REPLY_BYTES, `${4 + raw.length} bytes`);
      seen.push(...namesOf(raw).map((entry) => entry.filename));
    }
    assert.ok(replies.length > Math.ceil(names.length / READDIR_BATCH), 'cut by size');
    assert.deepEqual(seen.sort(), ['.', '..', ...names].sort(), 'each name once');
    await session.close();
  });

  it('asks the backend for at most one batch per READDIR', async () => {
    const requested: number[] = [];
    const vfs = new MemoryVfs();
    const opendir = vfs.opendir.bind(vfs);
    vfs.opendir = async (path) => {
      const dir = await opendir(path);
      return {
        next: (max) => (requested.push(max), dir.next(max)),
        stat: () => dir.stat(),
        close: () => dir.close(),
      };
    };
    const { client, session } = await ready({ vfs, limits: { readdirBatch: 7 } });
    await Promise.all(Array.from({ length: 20 }, (_, i) => vfs.mkdir(`/d${i}`)));
    assert.equal((await client.listDir('/')).length, 22);
    assert.ok(requested.every((max) => max === 7));
    await session.close();
  });
});

describe('engine: extensions', () => {
  it('answers statvfs, fstatvfs and limits with EXTENDED_REPLY', async () => {
    const { client, session } = await ready();
    const u64s = (reply: { type: number; body: PacketReader }, count: number) => {
      assert.equal(reply.type, PacketType.EXTENDED_REPLY);
      const values = Array.from({ length: count }, () => reply.body.u64());
      assert.equal(reply.body.failed, false);
      assert.equal(reply.body.remaining, 0);
      return values;
    };
    const stat = u64s(await client.extended('statvfs@openssh.com', (b) => b.string('/')), 11);
    assert.equal(stat[0], 4096);
    assert.equal(stat[10], 255);
    await upload(client, '/x', Buffer.alloc(10));
    const handle = await client.open('/x', OpenFlag.READ);
    const fstat = u64s(
      await client.extended('fstatvfs@openssh.com', (b) => b.string(handleBytes(handle))),
      11,
    );
    assert.equal(fstat[0], 4096);
    await client.close(handle);
    const limits = u64s(await client.extended('limits@openssh.com'), 4);
    assert.deepEqual(limits, [
      MAX_PACKET_LENGTH,
      MAX_DATA_LENGTH,
      MAX_DATA_LENGTH,
      MAX_OPEN_HANDLES,
    ]);
    await session.close();
  });

  it('expands ~ and answers home-directory', async () => {
    const { client, session } = await ready({ homeDirectory: '/home', username: 'alice' });
    const name = async (reply: Promise<Parameters<typeof TestClient.names>[0]>) =>
      TestClient.names(await reply)?.[0]?.filename;
    assert.equal(
      await name(client.extended('expand-path@openssh.com', (b) => b.string('~/docs'))),
      '/home/docs',
    );
    assert.equal(
      await name(client.extended('expand-path@openssh.com', (b) => b.string('~alice'))),
      '/home',
    );
    assert.equal(
      await name(client.extended('expand-path@openssh.com', (b) => b.string('rel'))),
      '/home/rel',
    );
    const other = await client.extended('expand-path@openssh.com', (b) => b.string('~bob/x'));
    assert.equal(TestClient.status(other), StatusCode.NO_SUCH_FILE);
    assert.equal(await name(client.extended('home-directory', (b) => b.string('alice'))), '/home');
    await session.close();
  });

  it('maps ids to names with users-groups-by-id', async () => {
    const names = {
      userName: (uid: number) => ({ 0: 'root', 1000: 'alice' })[uid],
      groupName: (gid: number) => (gid === 50 ? 'staff' : undefined),
    };
    const { client, session } = await ready({ names });
    const ids = (values: number[]) => {
      const buf = Buffer.alloc(values.length * 4);
      values.forEach((value, i) => buf.writeUInt32BE(value, i * 4));
      return buf;
    };
    const reply = await client.extended('users-groups-by-id@openssh.com', (b) =>
      b.string(ids([1000, 7, 0])).string(ids([50])),
    );
    assert.equal(reply.type, PacketType.EXTENDED_REPLY);
    const unpack = (packed: Buffer) => {
      const reader = new PacketReader(packed);
      const out = [];
      while (reader.remaining > 0) out.push(reader.string());
      return out;
    };
    assert.deepEqual(unpack(reply.body.bytes()), ['alice', '', 'root']);
    assert.deepEqual(unpack(reply.body.bytes()), ['staff']);
    const bad = await client.extended('users-groups-by-id@openssh.com', (b) =>
      b.string(Buffer.alloc(3)).string(''),
    );
    assert.equal(TestClient.status(bad), StatusCode.BAD_MESSAGE);
    await session.close();
  });

  it('copies data between handles in chunks, to EOF or for a length', async () => {
    const { client, session } = await ready();
    const data = randomBytes(200 * 1024 + 17);
    await upload(client, '/src', data);
    const copy = async (target: string, offset: number, length: number) => {
      const source = await client.open('/src', OpenFlag.READ);
      const dest = await client.open(target, WRITE_NEW);
      const reply = await client.extended('copy-data', (b) =>
        b.string(handleBytes(source)).u64(offset).u64(length).string(handleBytes(dest)).u64(0),
      );
      await client.close(source);
      await client.close(dest);
      return TestClient.status(reply);
    };
    assert.equal(await copy('/all', 0, 0), StatusCode.OK);
    assert.equal(sha256(await download(client, '/all')), sha256(data));
    assert.equal(await copy('/part', 1000, 70000), StatusCode.OK);
    assert.equal(sha256(await download(client, '/part')), sha256(data.subarray(1000, 71000)));
    const readOnly = await client.open('/src', OpenFlag.READ);
    const wrongWay = await client.extended('copy-data', (b) =>
      b.string(handleBytes(readOnly)).u64(0).u64(0).string(handleBytes(readOnly)).u64(0),
    );
    assert.equal(TestClient.status(wrongWay), StatusCode.PERMISSION_DENIED);
    await session.close();
  });

  it('syncs a handle and refuses unknown extensions and packet types', async () => {
    const { client, session } = await ready();
    const handle = await client.open('/s', WRITE_NEW);
    TestClient.expectOk(
      await client.extended('fsync@openssh.com', (b) => b.string(handleBytes(handle))),
    );
    const unknown = await client.extended('no-such@example.com', (b) => b.string('whatever'));
    assert.equal(TestClient.status(unknown), StatusCode.OP_UNSUPPORTED);
    const odd = await client.request(99, (b) => b.string('x'));
    assert.equal(TestClient.status(odd), StatusCode.OP_UNSUPPORTED);
    await client.close(handle);
    await session.close();
  });
});

describe('engine: robustness and backpressure', () => {
  it('ends the session on an oversized length without throwing', async () => {
    const { client, session, logger } = await ready();
    const header = Buffer.alloc(5);
    header.writeUInt32BE(MAX_PACKET_LENGTH + 1);
    client.sendRaw(header);
    await within(session.closed, 2000, 'session end');
    assert.ok(
      logger.lines.some(
        (line) => line.level === 'warn' && /length/.test(JSON.stringify(line.fields)),
      ),
    );
  });

  it('ends the session on a request that does not decode', async () => {
    const { client, session } = await ready();
    client.sendRaw(
      new PacketBuilder(PacketType.OPEN).u32(1).u32(50).raw(Buffer.from('short')).build(),
    );
    await within(session.closed, 2000, 'session end');
  });

  it('aborts an upload whose channel closes mid-transfer, after its pending writes', async () => {
    const vfs = spyVfs(new MemoryVfs(), { delay: (call) => (call.op === 'write' ? 5 : 0) });
    const { client, session } = await ready({ vfs });
    const handle = await client.open('/partial', WRITE_NEW);
    for (let i = 0; i < 10; i++) void client.write(handle, i * 1024, Buffer.alloc(1024, i));
    await new Promise((resolve) => setTimeout(resolve, 8));
    client.stream.end();
    await within(session.closed, 3000, 'session end');
    const ops = vfs.calls.map((call) => call.op);
    assert.equal(ops.filter((op) => op === 'abort').length, 1);
    assert.equal(ops.includes('close'), false);
    assert.equal(ops.at(-1), 'abort');
  });

  it('aborts every open handle when the server closes the session', async () => {
    const vfs = spyVfs(new MemoryVfs());
    const { client, session } = await ready({ vfs });
    await client.open('/one', WRITE_NEW);
    await client.open('/two', WRITE_NEW);
    await within(session.close(), 2000, 'close');
    assert.equal(vfs.calls.filter((call) => call.op === 'abort').length, 2);
    await within(
      new Promise((resolve) => (client.ended ? resolve(null) : client.stream.once('end', resolve))),
      2000,
      'client end',
    );
  });

  it('stops reading requests while replies are not being consumed', async () => {
    const vfs = spyVfs(new MemoryVfs());
    const limits = { maxInFlightRequests: 16 };
    const { client, session } = await ready({ vfs, highWaterMark: 16 * 1024, limits });
    await upload(client, '/r', randomBytes(64 * 1024));
    const handle = await client.open('/r', OpenFlag.READ);
    client.stream.pause();
    const reads = Array.from({ length: 300 }, () => client.read(handle, 0, 32 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const served = vfs.calls.filter((call) => call.op === 'read').length;
    // The first batch fills the channel; the engine must then wait for 'drain', not read on.
    assert.ok(served <= 2 * limits.maxInFlightRequests, `kept reading: ${served} reads served`);
    client.stream.resume();
    const results = await within(Promise.all(reads), 5000, 'reads after resume');
    assert.ok(results.every((data) => data?.length === 32 * 1024));
    await session.close();
  });
});

describe('engine: continuing requests on one handle are served together', () => {
  it('joins queued contiguous writes, keeps every byte, and answers each request', async () => {
    // Each backend write waits a little, so later requests pile up behind it.
    const vfs = spyVfs(new MemoryVfs(), { delay: (c) => (c.op === 'write' ? 5 : 0) });
    const { client } = await ready({ vfs });
    const data = randomBytes(64 * 32 * 1024 + 100);
    await upload(client, '/joined.bin', data);
    const writes = vfs.calls.filter((c) => c.op === 'write');
    assert.ok(writes.length < 20, `expected joined writes, got ${writes.length} backend calls`);
    assert.equal(sha256(await download(client, '/joined.bin')), sha256(data));
  });

  it('never joins writes that leave a gap or go backwards', async () => {
    const vfs = spyVfs(new MemoryVfs(), { delay: (c) => (c.op === 'write' ? 5 : 0) });
    const { client } = await ready({ vfs });
    const handle = await client.open('/gaps.bin', WRITE_NEW);
    const chunk = Buffer.alloc(1000, 1);
    const offsets = [0, 1000, 5000, 6000, 2000, 3000];
    const replies = await Promise.all(offsets.map((o) => client.write(handle, o, chunk)));
    replies.forEach((reply) => TestClient.expectOk(reply));
    await client.close(handle);
    const positions = vfs.calls.filter((c) => c.op === 'write').map((c) => [c.position, c.length]);
    for (const [position, length] of positions) {
      // A joined call covers only bytes the client actually sent, in one continuous run.
      const covered = offsets.filter((o) => o >= position! && o < position! + length!);
      assert.equal(covered.length * 1000, length);
    }
    const stored = await download(client, '/gaps.bin');
    assert.equal(stored.length, 7000);
    assert.equal(
      stored.subarray(4000, 5000).every((b) => b === 0),
      true,
      'the gap stays zero',
    );
  });

  it('runs queued reads side by side, answers in request order and EOF past the end', async () => {
    const vfs = spyVfs(new MemoryVfs(), { delay: (c) => (c.op === 'read' ? 5 : 0) });
    const { client } = await ready({ vfs });
    const data = randomBytes(10 * 1000 + 10);
    await upload(client, '/r.bin', data);
    // Hold every free block of the size 1000-byte reads take, so any block free afterwards came
    // back from these reads.
    const pool = sftpBlockPools(MAX_PACKET_LENGTH + 4).pools[0]!;
    const held = Array.from({ length: pool.freeCount }, () => pool.take());
    const handle = await client.open('/r.bin', OpenFlag.READ);
    const reads = Array.from({ length: 14 }, (_, i) => client.read(handle, i * 1000, 1000));
    const got = await Promise.all(reads);
    await client.close(handle);
    for (let i = 0; i < 10; i++) assert.deepEqual(got[i], data.subarray(i * 1000, (i + 1) * 1000));
    assert.deepEqual(got[10], data.subarray(10_000));
    assert.deepEqual(got.slice(11), [null, null, null], 'past the end is EOF');
    assert.ok(vfs.peaks.read > 1, 'queued reads ran side by side');
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(pool.freeCount > 0, 'the blocks of sent replies went back to the pool');
    for (const block of held) pool.release(block);
  });

  it('assembles a 32 KiB WRITE in a block of its own size, not in one of the largest packet', async () => {
    const vfs = new MemoryVfs();
    const { client } = await ready({ vfs });
    // Each packet reaches the engine in two pieces, as a WRITE spanning SSH channel packets does.
    const sendRaw = client.sendRaw.bind(client);
    client.sendRaw = (packet) => {
      sendRaw(packet.subarray(0, 100));
      sendRaw(packet.subarray(100));
    };
    const pools = sftpBlockPools(MAX_PACKET_LENGTH + 4);
    const smallest = pools.pools[0]!;
    const largest = pools.pools[pools.pools.length - 1]!;
    assert.ok(smallest.blockSize < 34 * 1024 && smallest.blockSize > 32 * 1024 + 64);
    // Hold every free block, so any block free afterwards came back from these writes.
    const held = [smallest, largest].flatMap((pool) =>
      Array.from({ length: pool.freeCount }, () => pool.take()),
    );
    const chunk = randomBytes(32 * 1024);
    const handle = await client.open('/w.bin', WRITE_NEW);
    await Promise.all([0, 1, 2, 3].map((i) => client.write(handle, i * chunk.length, chunk)));
    await client.close(handle);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(smallest.freeCount > 0, 'the WRITEs were assembled in 32 KiB blocks');
    assert.equal(largest.freeCount, 0, 'and in no block of the largest size');
    assert.equal(
      sha256(await download(client, '/w.bin')),
      sha256(Buffer.concat([chunk, chunk, chunk, chunk])),
    );
    for (const block of held) pools.release(block);
  });

  it('answers every request of a failed joined write with the failure', async () => {
    const vfs = spyVfs(new MemoryVfs({ maxFileSize: 40 * 1024 }), {
      delay: (c) => (c.op === 'write' ? 5 : 0),
    });
    const { client } = await ready({ vfs });
    const handle = await client.open('/small.bin', WRITE_NEW);
    const chunk = Buffer.alloc(8 * 1024, 7);
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => client.write(handle, i * chunk.length, chunk)),
    );
    const failed = statuses.filter((reply) => TestClient.status(reply) !== StatusCode.OK);
    assert.ok(failed.length > 0, 'writes past the size limit fail');
    assert.equal(statuses.length, 12, 'every request got exactly one reply');
    await client.close(handle);
  });
});
