/**
 * The actors of the path-race fuzzer (test/fuzz/path-race.test.ts). One tenant's /rw/d is
 * swapped, as fast as possible, between a real directory and a symlink: through SFTP by one
 * session, and on disk by the test itself (links with absolute host targets and ../../ targets,
 * as rsync, git or a moved relative link leave them). Other sessions of the same tenant fire
 * random path requests below /rw/d. A watcher hashes the protected tree (outside the home and
 * the narrow areas inside it) and stops everything at the first change or leak.
 */
import { mkdir, rename, rm, symlink, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OpenFlag, StatusCode } from '../../server/src/sftp/constants.js';
import { diffStates, type Tenant, type TreeState } from './fixture.js';
import { statusName, type RawSftp } from './raw-session.js';

/** mulberry32: small, fast and reproducible from one seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export type Random = () => number;
export const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)]!;
const int = (random: Random, max: number): number => Math.floor(random() * max);
const pause = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** What one race run aims at: names to use below /rw/d and targets for the swapped links. */
export interface RaceScenario {
  /** Names below /rw/d; they should match names in the tree the links lead to. */
  vocabulary: readonly string[];
  /** Targets of links made through SFTP (as a client would write them). */
  sftpTargets: (t: Tenant) => string[];
  /** Targets of links planted on disk by the test (host paths or relative to <home>/rw). */
  diskTargets: (t: Tenant) => string[];
  /** Markers whose appearance in any read means a leak. */
  secrets: (t: Tenant) => string[];
}

/** Shared state of one run: the stop flag, the first violation and a log of recent steps. */
export class RaceState {
  readonly #started = Date.now();
  readonly #log: string[] = [];
  stopped = false;
  violation: string | undefined;
  steps = 0;
  swaps = 0;

  note(actor: string, step: string): void {
    this.steps += 1;
    this.#log.push(`${Date.now() - this.#started}ms ${actor}: ${step}`);
    if (this.#log.length > 120) this.#log.shift();
  }

  fail(message: string): void {
    this.violation ??= message;
    this.stopped = true;
  }

  recent(): string {
    return this.#log.join('\n');
  }
}

/** A random path below /rw/d, one to three names deep. */
export function racePath(random: Random, vocabulary: readonly string[]): string {
  const depth = 1 + int(random, 3);
  const names = Array.from({ length: depth }, () => pick(random, vocabulary));
  return `/rw/d/${names.join('/')}`;
}

/** Fills a fresh real directory on disk with a few random entries from the vocabulary. */
async function fillOnDisk(
  dir: string,
  random: Random,
  vocabulary: readonly string[],
): Promise<void> {
  for (let i = int(random, 4); i > 0; i--) {
    const name = pick(random, vocabulary);
    const at = join(dir, name);
    if (random() < 0.3) await mkdir(at).catch(() => undefined);
    else await writeFile(at, `decoy ${name}\n`).catch(() => undefined);
  }
}

/**
 * A new real /rw/d, filled under a name no request can reach and then renamed into place: the
 * test must never write through a link the other actors swapped in.
 */
async function freshDirectory(
  rw: string,
  n: number,
  options: { random: Random; scenario: RaceScenario },
): Promise<void> {
  const fresh = join(rw, `.fresh-${n}`);
  await mkdir(fresh);
  await fillOnDisk(fresh, options.random, options.scenario.vocabulary);
  await rename(fresh, join(rw, 'd')).catch(() => undefined);
}

/**
 * Swaps <home>/rw/d on disk: a real directory moves aside, a planted link takes its name, and
 * after a moment the directory comes back. Leftovers are removed without following links.
 */
export async function diskSwapper(
  t: Tenant,
  scenario: RaceScenario,
  random: Random,
  state: RaceState,
): Promise<void> {
  const rw = t.host('rw');
  const d = join(rw, 'd');
  const targets = scenario.diskTargets(t);
  for (let n = 0; !state.stopped; n++) {
    const target = pick(random, targets);
    const aside = join(rw, `.aside-${n}`);
    const planted = join(rw, `.plant-${n}`);
    await rename(d, aside).catch(() => undefined);
    try {
      await symlink(target, planted);
      await rename(planted, d);
      state.swaps += 1;
    } catch {
      await rm(planted, { force: true });
    }
    await pause(int(random, 3));
    await rename(d, join(rw, `.gone-${n}`)).catch(() => undefined);
    await rename(aside, d).catch(() => freshDirectory(rw, n, { random, scenario }));
    if (n % 40 === 39) await sweep(rw);
  }
  await sweep(rw);
}

/** Removes what the swappers left in /rw (never following a link: rm unlinks links). */
export async function sweep(rw: string): Promise<void> {
  const names = await readdir(rw).catch(() => [] as string[]);
  const leftovers = names.filter((name) => /^(\.aside-|\.gone-|\.plant-|\.fresh-|old-)/.test(name));
  await Promise.all(
    leftovers.map((name) =>
      rm(join(rw, name), { recursive: true, force: true, maxRetries: 2 }).catch(() => undefined),
    ),
  );
}

/** Swaps /rw/d through SFTP: a directory is renamed away and a link made in its place, and back. */
export async function sftpSwapper(
  sftp: RawSftp,
  t: Tenant,
  scenario: { random: Random; race: RaceScenario; state: RaceState },
): Promise<void> {
  const { random, race, state } = scenario;
  const targets = race.sftpTargets(t);
  for (let n = 0; !state.stopped; n++) {
    const now = await sftp.lstat('/rw/d');
    const isDir = typeof now !== 'number' && ((now.permissions ?? 0) & 0o170000) === 0o040000;
    if (isDir) {
      const target = pick(random, targets);
      await sftp.rename('/rw/d', `/rw/old-${n}`);
      const status = await sftp.symlink(target, '/rw/d');
      state.note('sftp-swapper', `symlink ${target} -> /rw/d: ${statusName(status)}`);
      if (status === StatusCode.OK) state.swaps += 1;
    } else {
      await sftp.remove('/rw/d');
      await sftp.mkdir('/rw/d');
      if (random() < 0.5)
        await sftp
          .writeFile(`/rw/d/${pick(random, race.vocabulary)}`, 'decoy')
          .catch(() => undefined);
    }
  }
}

type Step = (sftp: RawSftp, path: string, ctx: StepContext) => Promise<string>;

interface StepContext {
  random: Random;
  other: () => string;
  t: Tenant;
  race: RaceScenario;
  state: RaceState;
  serial: number;
}

const { READ, WRITE, APPEND, CREAT, TRUNC } = OpenFlag;
const PAYLOAD = Buffer.from('WRITTEN-BY-THE-RACE\n');
/** Planted by the fixture in the other tenant's home only. */
export const VICTIM_ONLY_NAME = 'only-in-victim.txt';

async function openWriteClose(sftp: RawSftp, path: string, pflags: number): Promise<string> {
  const opened = await sftp.open(path, pflags, { permissions: 0o666 });
  if (opened.handle === undefined) return statusName(opened.status);
  const written = await sftp.write(opened.handle, 0, PAYLOAD);
  await sftp.close(opened.handle);
  return `OK, write ${statusName(written)}`;
}

/** Any protected marker in data read is a leak. */
function checkData(ctx: StepContext, what: string, text: string): void {
  for (const secret of ctx.race.secrets(ctx.t)) {
    if (text.includes(secret)) ctx.state.fail(`${what} returned protected content (${secret})`);
  }
}

/** A name only the other tenant's home holds (never in the vocabulary) means a leak. */
function checkListing(ctx: StepContext, what: string, names: string[]): void {
  if (names.includes(VICTIM_ONLY_NAME)) ctx.state.fail(`${what} listed the other tenant's home`);
}

const STEPS: Record<string, Step> = {
  create: (sftp, path) => openWriteClose(sftp, path, WRITE | CREAT | TRUNC),
  overwrite: (sftp, path) => openWriteClose(sftp, path, WRITE | TRUNC),
  append: (sftp, path) => openWriteClose(sftp, path, WRITE | APPEND),
  read: async (sftp, path, ctx) => {
    const opened = await sftp.open(path, READ);
    if (opened.handle === undefined) return statusName(opened.status);
    const data = await sftp.read(opened.handle, 0, 4096);
    await sftp.close(opened.handle);
    if (Buffer.isBuffer(data)) checkData(ctx, `READ ${path}`, data.toString());
    return Buffer.isBuffer(data) ? `${data.length} bytes` : statusName(data);
  },
  list: async (sftp, path, ctx) => {
    const opened = await sftp.opendir(path);
    if (opened.handle === undefined) return statusName(opened.status);
    const names = await sftp.readdir(opened.handle);
    await sftp.close(opened.handle);
    if (Array.isArray(names)) checkListing(ctx, `READDIR ${path}`, names);
    return Array.isArray(names) ? names.join(',') : statusName(names);
  },
  remove: async (sftp, path) => statusName(await sftp.remove(path)),
  rename: async (sftp, path, ctx) => statusName(await sftp.rename(path, ctx.other())),
  posixRename: async (sftp, path, ctx) => statusName(await sftp.posixRename(ctx.other(), path)),
  renameOut: async (sftp, path, ctx) =>
    statusName(await sftp.posixRename(path, `/rw/loot-${ctx.serial % 50}`)),
  linkOut: async (sftp, path, ctx) =>
    statusName(await sftp.hardlink(path, `/rw/hard-${ctx.serial % 50}`)),
  linkIn: async (sftp, path) => statusName(await sftp.hardlink('/rw/seed.txt', path)),
  mkdir: async (sftp, path) => statusName(await sftp.mkdir(path, { permissions: 0o777 })),
  rmdir: async (sftp, path) => statusName(await sftp.rmdir(path)),
  chmod: async (sftp, path) => statusName(await sftp.setstat(path, { permissions: 0o4777 })),
  chtimes: async (sftp, path) =>
    statusName(await sftp.setstat(path, { atime: 1_000_000, mtime: 1_000_000 })),
  truncate: async (sftp, path) => statusName(await sftp.setstat(path, { size: 0 })),
  chown: async (sftp, path) => statusName(await sftp.setstat(path, { uid: 1234, gid: 1234 })),
  lsetstat: async (sftp, path) =>
    statusName(await sftp.lsetstat(path, { atime: 2_000_000, mtime: 2_000_000 })),
  symlink: async (sftp, path, ctx) => {
    const target = pick(ctx.random, ctx.race.sftpTargets(ctx.t));
    return statusName(await sftp.symlink(target, path));
  },
  stat: async (sftp, path) => {
    const st = await sftp.stat(path);
    return typeof st === 'number' ? statusName(st) : `size ${st.size}`;
  },
  realpath: async (sftp, path) => {
    const real = await sftp.realpath(path);
    return typeof real === 'string' ? real : statusName(real);
  },
  readlink: async (sftp, path) => {
    const target = await sftp.readlink(path);
    return typeof target === 'string' ? target : statusName(target);
  },
};
const STEP_NAMES = Object.keys(STEPS);

/** One worker: random requests below /rw/d until the run stops. */
export async function attacker(
  sftp: RawSftp,
  t: Tenant,
  options: { name: string; random: Random; race: RaceScenario; state: RaceState },
): Promise<void> {
  const { name, random, race, state } = options;
  for (let serial = 0; !state.stopped; serial++) {
    const stepName = pick(random, STEP_NAMES);
    const path = racePath(random, race.vocabulary);
    const ctx: StepContext = {
      random,
      other: () => racePath(random, race.vocabulary),
      t,
      race,
      state,
      serial,
    };
    const outcome = await STEPS[stepName]!(sftp, path, ctx);
    state.note(name, `${stepName} ${path}: ${outcome}`);
  }
}

/** Hashes the protected tree every `everyMs` and fails the run at the first difference. */
export async function watcher(
  t: Tenant,
  baseline: TreeState,
  state: RaceState,
  everyMs: number,
): Promise<void> {
  while (!state.stopped) {
    await pause(everyMs);
    const changes = diffStates(baseline, await t.protectedState());
    if (changes.length > 0) state.fail(`protected files changed:\n${changes.join('\n')}`);
  }
}
