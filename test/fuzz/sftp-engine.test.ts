/**
 * Fuzzes the SFTP engine with random and mutated packets for FUZZ_SECONDS (default 10). Each
 * iteration runs a fresh session on a memory Vfs and must either answer a final probe or end the
 * session, within a deadline; nothing may throw out of the engine or reject unhandled.
 * FUZZ_SEED reproduces a run (the seed is printed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PacketType, OpenFlag } from '../../server/src/sftp/constants.js';
import { MemoryVfs } from '../../server/src/vfs/memory.js';
import { PacketBuilder, TestClient } from '../sftp/client.js';
import { startEngine, within } from '../sftp/harness.js';

const FUZZ_SECONDS = Number(process.env['FUZZ_SECONDS'] ?? 10);
const SEED = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const ITERATION_DEADLINE_MS = 3000;

/** mulberry32: small, fast and reproducible from one seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)]!;
const int = (random: Random, max: number): number => Math.floor(random() * max);

/** Valid requests of every kind; `handle` is a real open handle so mutations reach handlers. */
function corpus(handle: Buffer, dirHandle: Buffer): Buffer[] {
  let id = 1000;
  const req = (type: number): PacketBuilder => new PacketBuilder(type).u32(id++);
  const ext = (name: string): PacketBuilder => req(PacketType.EXTENDED).string(name);
  return [
    req(PacketType.OPEN)
      .string('/f')
      .u32(OpenFlag.READ | OpenFlag.WRITE | OpenFlag.CREAT)
      .attrs({ permissions: 0o644 })
      .build(),
    req(PacketType.READ).string(handle).u64(0).u32(4096).build(),
    req(PacketType.WRITE).string(handle).u64(10).string(Buffer.alloc(100, 7)).build(),
    req(PacketType.FSTAT).string(handle).build(),
    req(PacketType.FSETSTAT).string(handle).attrs({ size: 50, permissions: 0o600 }).build(),
    req(PacketType.READDIR).string(dirHandle).build(),
    req(PacketType.OPENDIR).string('/d').build(),
    req(PacketType.STAT).string('/f').build(),
    req(PacketType.LSTAT).string('/l').build(),
    req(PacketType.SETSTAT).string('/f').attrs({ atime: 1, mtime: 2 }).build(),
    req(PacketType.MKDIR).string('/d/sub').attrs({}).build(),
    req(PacketType.RMDIR).string('/d/sub').build(),
    req(PacketType.REMOVE).string('/g').build(),
    req(PacketType.REALPATH).string('../d/./x').build(),
    req(PacketType.RENAME).string('/f').string('/g').build(),
    req(PacketType.READLINK).string('/l').build(),
    req(PacketType.SYMLINK).string('/f').string('/l2').build(),
    req(PacketType.CLOSE).string(handle).build(),
    ext('posix-rename@openssh.com').string('/g').string('/f').build(),
    ext('statvfs@openssh.com').string('/').build(),
    ext('fstatvfs@openssh.com').string(handle).build(),
    ext('hardlink@openssh.com').string('/f').string('/h').build(),
    ext('fsync@openssh.com').string(handle).build(),
    ext('lsetstat@openssh.com').string('/l').attrs({ mtime: 5, atime: 5 }).build(),
    ext('limits@openssh.com').build(),
    ext('expand-path@openssh.com').string('~/d').build(),
    ext('copy-data').string(handle).u64(0).u64(0).string(handle).u64(4096).build(),
    ext('home-directory').string('').build(),
    ext('users-groups-by-id@openssh.com').string(Buffer.alloc(8)).string(Buffer.alloc(4)).build(),
  ];
}

function mutate(random: Random, packet: Buffer): Buffer {
  const out = Buffer.from(packet);
  switch (int(random, 6)) {
    case 0: // flip a few bytes after the length
      for (let i = 0, n = 1 + int(random, 4); i < n && out.length > 4; i++) {
        const at = 4 + int(random, out.length - 4);
        out[at] = out[at]! ^ (1 + int(random, 255));
      }
      return out;
    case 1: // truncate the body, keeping the length field consistent
      return fixLength(out.subarray(0, 5 + int(random, Math.max(1, out.length - 5))));
    case 2: // a huge or off-by-some length field
      out.writeUInt32BE(
        pick(random, [0xffffffff, 0x7fffffff, 256 * 1024 + 1, out.length, out.length - 3]) >>> 0,
        0,
      );
      return out;
    case 3: // corrupt a string length inside the body
      if (out.length >= 13)
        out.writeUInt32BE(pick(random, [0xffffffff, 0x10000, 1]), 9 + int(random, out.length - 12));
      return out;
    case 4: // unknown packet type
      out[4] = int(random, 256);
      return out;
    default: // random bytes with a valid length
      return fixLength(
        Buffer.concat([
          Buffer.alloc(4),
          Buffer.from(Array.from({ length: 1 + int(random, 64) }, () => int(random, 256))),
        ]),
      );
  }
}

function fixLength(packet: Buffer): Buffer {
  const out = Buffer.from(packet);
  if (out.length >= 4) out.writeUInt32BE(out.length - 4, 0);
  return out;
}

async function seed(client: TestClient, vfs: MemoryVfs): Promise<{ handle: Buffer; dir: Buffer }> {
  await vfs.mkdir('/d');
  await vfs.symlink('/l', 'f');
  const handle = await client.open('/f', OpenFlag.READ | OpenFlag.WRITE | OpenFlag.CREAT);
  const dir = TestClient.handle(await client.request(PacketType.OPENDIR, (b) => b.string('/d')));
  return { handle: Buffer.from(handle, 'latin1'), dir: Buffer.from(dir, 'latin1') };
}

async function iteration(random: Random): Promise<'answered' | 'ended'> {
  const vfs = new MemoryVfs({ maxFileSize: 16 * 1024 * 1024 });
  const { client, session } = startEngine({ vfs, limits: { maxOpenHandles: 16 } });
  const skipInit = random() < 0.05;
  if (!skipInit) await within(client.init(), ITERATION_DEADLINE_MS, 'INIT');
  const { handle, dir } = skipInit
    ? { handle: Buffer.from('x'), dir: Buffer.from('y') }
    : await seed(client, vfs);
  const packets = corpus(handle, dir);
  for (let i = 0, n = 1 + int(random, 12); i < n; i++) {
    const packet = pick(random, packets);
    client.sendRaw(random() < 0.7 ? mutate(random, packet) : packet);
  }
  const probeId = client.nextId();
  const probe = client.requestPacket(
    probeId,
    new PacketBuilder(PacketType.REALPATH).u32(probeId).string('.').build(),
  );
  const outcome = await Promise.race([
    probe.then(() => 'answered' as const),
    session.closed.then(() => 'ended' as const),
    new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 300)),
  ]);
  // A length field may promise bytes that never come; ending the channel must end the session.
  if (outcome === 'stuck') client.stream.end();
  await within(session.close(), ITERATION_DEADLINE_MS, 'session close');
  return outcome === 'stuck' ? 'ended' : outcome;
}

describe('SFTP engine fuzzing', () => {
  const failures: unknown[] = [];
  const record = (err: unknown): void => {
    failures.push(err);
  };
  before(() => {
    process.on('unhandledRejection', record);
    process.on('uncaughtException', record);
  });
  after(() => {
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
  });

  it(`survives random and mutated packets for ${FUZZ_SECONDS}s (seed ${SEED})`, async () => {
    console.log(`fuzz seed ${SEED}; rerun with FUZZ_SEED=${SEED}`);
    const random = prng(SEED);
    const deadline = Date.now() + FUZZ_SECONDS * 1000;
    const outcomes = { answered: 0, ended: 0 };
    let iterations = 0;
    while (Date.now() < deadline) {
      outcomes[await iteration(random)]++;
      iterations++;
    }
    console.log(
      `fuzz: ${iterations} sessions, ${outcomes.answered} answered, ${outcomes.ended} ended`,
    );
    assert.deepEqual(failures, []);
    assert.ok(iterations > 0);
    assert.ok(outcomes.answered > 0 && outcomes.ended > 0, 'both outcomes were exercised');
  });
});
