/**
 * Shared set-up of the attack suite: a real `kubesftp serve`, and per test a fresh tenant whose
 * home sits on a "volume" beside another tenant's home and a file every tenant shares. The home
 * has areas with narrow permissions (/ro list only, /dl list and download, ...) filled on disk
 * before any probe. Everything outside the home, and every narrow area inside it, is
 * "protected": its full state (names, types, content sha256, mode, owner, link counts, link
 * targets, mtime and ctime in nanoseconds) is hashed before and after each probe.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusCode } from '../../server/src/sftp/constants.js';
import { startServer, type RunningServer } from '../integration/harness.js';
import { openRawSession, statusName, type RawLogin, type RawSession } from './raw-session.js';

/** The probe account's rules: everything in "/", narrow areas below it. */
export const STANDARD_PERMISSIONS: Record<string, string[]> = {
  '/': ['*'],
  '/ro': ['list'],
  '/dl': ['list', 'download'],
  '/up': ['list', 'upload'],
  '/drop': ['list'],
  '/box/locked': ['list'],
};

/** Areas of the home that the account may not change (hashed with the outside tree). */
export const PROTECTED_AREAS = ['ro', 'dl', 'drop', 'box/locked'] as const;

export interface TenantOptions {
  permissions?: Record<string, string[]>;
  uid?: number;
  gid?: number;
  /** Fill the home with the standard tree before login (default true). */
  tree?: boolean;
}

/** Unique contents, so a read that returns them proves where it read. */
export interface Markers {
  victim: string;
  shared: string;
  ro: string;
  dl: string;
}

/** One tree's full state: a line per entry, and a digest of all lines. */
export interface TreeState {
  digest: string;
  entries: Map<string, string>;
}

/** One entry's type, metadata (ns times), content hash or link target, as a line. */
export async function entryState(hostPath: string): Promise<string> {
  const st = await lstat(hostPath, { bigint: true });
  const meta = [
    `mode=${(st.mode & 0o177777n).toString(8)}`,
    `uid=${st.uid}`,
    `gid=${st.gid}`,
    `nlink=${st.nlink}`,
    `mtime=${st.mtimeNs}`,
    `ctime=${st.ctimeNs}`,
  ].join(' ');
  if (st.isSymbolicLink()) return `link ${meta} -> ${await readlink(hostPath)}`;
  if (st.isFile()) {
    const sha = createHash('sha256')
      .update(await readFile(hostPath))
      .digest('hex');
    return `file ${meta} sha256=${sha}`;
  }
  return `${st.isDirectory() ? 'dir' : 'other'} ${meta}`;
}

/** Walks `root` without following links; `skip` names host paths left out (with their subtree). */
async function walk(
  root: string,
  label: string,
  into: Map<string, string>,
  skip: ReadonlySet<string>,
): Promise<void> {
  let description: string;
  try {
    description = await entryState(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    into.set(label, 'missing');
    return;
  }
  into.set(label, description);
  if (!description.startsWith('dir ')) return;
  for (const name of (await readdir(root)).sort()) {
    const child = join(root, name);
    if (!skip.has(child)) await walk(child, `${label}/${name}`, into, skip);
  }
}

export function digestOf(entries: Map<string, string>): string {
  const hash = createHash('sha256');
  for (const [label, description] of [...entries].sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(`${label}\t${description}\n`);
  }
  return hash.digest('hex');
}

/** Human-readable lines for every entry that appeared, vanished or changed. */
export function diffStates(before: TreeState, after: TreeState): string[] {
  if (before.digest === after.digest) return [];
  const lines: string[] = [];
  const labels = new Set([...before.entries.keys(), ...after.entries.keys()]);
  for (const label of [...labels].sort()) {
    const was = before.entries.get(label) ?? 'absent';
    const now = after.entries.get(label) ?? 'absent';
    if (was !== now) lines.push(`${label}: ${was}  =>  ${now}`);
  }
  return lines;
}

export class Tenant {
  readonly username: string;
  readonly password: string;
  readonly volume: string;
  readonly home: string;
  readonly markers: Markers;
  readonly #bed: AttackBed;

  constructor(bed: AttackBed, fields: { username: string; volume: string; markers: Markers }) {
    this.#bed = bed;
    this.username = fields.username;
    this.password = `pw-${fields.username}-${randomBytes(6).toString('hex')}`;
    this.volume = fields.volume;
    this.home = join(fields.volume, fields.username);
    this.markers = fields.markers;
  }

  get victimHome(): string {
    return join(this.volume, 'victim');
  }

  login(): RawLogin {
    return { port: this.#bed.server.sftpPort, username: this.username, password: this.password };
  }

  /** A raw SFTP session as this tenant; closed by the bed if the test does not close it. */
  session(): Promise<RawSession> {
    return this.#bed.track(openRawSession(this.login()));
  }

  /** Host path of a virtual path inside the home. */
  host(virtualPath: string): string {
    return join(this.home, virtualPath);
  }

  /** State of everything the tenant must never change: outside the home and its narrow areas. */
  async protectedState(): Promise<TreeState> {
    const entries = new Map<string, string>();
    await walk(this.volume, 'volume', entries, new Set([this.home]));
    for (const area of PROTECTED_AREAS) {
      await walk(this.host(area), `home/${area}`, entries, new Set());
    }
    return { digest: digestOf(entries), entries };
  }

  /** Fails listing every changed entry when the protected state differs from `before`. */
  async assertProtectedUnchanged(before: TreeState, what: string): Promise<void> {
    const changes = diffStates(before, await this.protectedState());
    assert.deepEqual(changes, [], `${what} changed protected files:\n${changes.join('\n')}`);
  }

  /**
   * Runs `probe`, then compares the protected state, and fails with both what changed and the
   * probe's own failure, so a report shows every broken expectation of a probe at once.
   */
  async probe(what: string, probe: () => Promise<void>): Promise<void> {
    const before = await this.protectedState();
    let failure: Error | undefined;
    try {
      await probe();
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
    }
    const changes = diffStates(before, await this.protectedState());
    if (changes.length > 0) {
      const also = failure ? `\nand the probe itself failed: ${failure.message}` : '';
      assert.fail(`${what} changed protected files:\n${changes.join('\n')}${also}`);
    }
    if (failure !== undefined) throw failure;
  }
}

/** sha256 of a host file's content, for "unchanged" checks of single files. */
export async function sha256Of(hostPath: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(hostPath))
    .digest('hex');
}

export function sha256Text(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Permission and special bits of a host entry (lstat). */
export async function modeOf(hostPath: string): Promise<number> {
  return (await lstat(hostPath)).mode & 0o7777;
}

export function expectStatus(actual: number, expected: number, what: string): void {
  assert.equal(
    actual,
    expected,
    `${what}: expected ${statusName(expected)}, got ${statusName(actual)}`,
  );
}

export function expectDenied(actual: number, what: string): void {
  expectStatus(actual, StatusCode.PERMISSION_DENIED, what);
}

export function expectOk(actual: number, what: string): void {
  expectStatus(actual, StatusCode.OK, what);
}

async function put(hostPath: string, content: string, mode: number): Promise<void> {
  await writeFile(hostPath, content);
  await chmod(hostPath, mode);
}

async function makeDir(hostPath: string, mode = 0o755): Promise<void> {
  await mkdir(hostPath, { recursive: true });
  await chmod(hostPath, mode);
}

/** The other tenant's home and the volume's shared file: what an escape would reach. */
async function plantOutside(volume: string, markers: Markers): Promise<void> {
  await put(join(volume, 'shared.txt'), `${markers.shared}\n`, 0o644);
  const victim = join(volume, 'victim');
  await makeDir(victim, 0o700);
  await put(join(victim, 'secret.txt'), `${markers.victim}\n`, 0o600);
  await put(join(victim, 'only-in-victim.txt'), `${markers.victim} (listing marker)\n`, 0o600);
  await makeDir(join(victim, 'docs'), 0o750);
  await put(join(victim, 'docs', 'plan.txt'), `plan of the victim ${markers.victim}\n`, 0o640);
  await makeDir(join(victim, 'empty'));
  await symlink('secret.txt', join(victim, 'link-to-secret'));
}

/** The probe account's home: narrow areas with files written on disk (mode 0600). */
async function plantHome(home: string, markers: Markers): Promise<void> {
  await makeDir(home);
  await makeDir(join(home, 'ro'));
  await put(join(home, 'ro', 'a.txt'), `${markers.ro} a\n`, 0o600);
  await makeDir(join(home, 'ro', 'sub'));
  await put(join(home, 'ro', 'sub', 'b.txt'), `${markers.ro} b, a longer file\n`, 0o600);
  await makeDir(join(home, 'ro', 'empty'));
  await makeDir(join(home, 'dl'));
  await put(join(home, 'dl', 'file.txt'), `${markers.dl} file\n`, 0o600);
  await makeDir(join(home, 'dl', 'sub'));
  await put(join(home, 'dl', 'sub', 'c.txt'), `${markers.dl} c, in a sub directory\n`, 0o600);
  await makeDir(join(home, 'up'));
  await put(join(home, 'up', 'existing.txt'), 'uploaded before\n', 0o644);
  await makeDir(join(home, 'rw'));
  await makeDir(join(home, 'drop'));
  await makeDir(join(home, 'box', 'locked'));
  await put(join(home, 'box', 'locked', 'keep.txt'), 'kept under a rule\n', 0o600);
}

export class AttackBed {
  readonly server: RunningServer;
  readonly work: string;
  readonly #sessions = new Set<RawSession>();
  #count = 0;

  private constructor(server: RunningServer, work: string) {
    this.server = server;
    this.work = work;
  }

  static async start(env: Record<string, string> = {}): Promise<AttackBed> {
    const work = await mkdtemp(join(tmpdir(), 'kubesftp-attack-'));
    return new AttackBed(await startServer(env), work);
  }

  /** A new account on a new volume; the home is filled unless `tree` is false. */
  async tenant(options: TenantOptions = {}): Promise<Tenant> {
    this.#count += 1;
    const volume = join(this.work, `volume-${this.#count}`);
    const id = randomBytes(4).toString('hex');
    const markers: Markers = {
      victim: `VICTIM-SECRET-${id}`,
      shared: `SHARED-${id}`,
      ro: `RO-MARKER-${id}`,
      dl: `DL-MARKER-${id}`,
    };
    const tenant = new Tenant(this, { username: `tenant${this.#count}`, volume, markers });
    await makeDir(volume);
    await plantOutside(volume, markers);
    if (options.tree !== false) await plantHome(tenant.home, markers);
    const created = await this.server.api('POST', '/api/v1/user', {
      username: tenant.username,
      password: tenant.password,
      home_dir: tenant.home,
      permissions: options.permissions ?? STANDARD_PERMISSIONS,
      uid: options.uid ?? 0,
      gid: options.gid ?? 0,
      status: 1,
    });
    assert.equal(
      created.status,
      201,
      `creating ${tenant.username}: ${JSON.stringify(created.body)}`,
    );
    return tenant;
  }

  async track(opening: Promise<RawSession>): Promise<RawSession> {
    const session = await opening;
    this.#sessions.add(session);
    const close = session.close.bind(session);
    session.close = async () => {
      this.#sessions.delete(session);
      await close();
    };
    return session;
  }

  async closeSessions(): Promise<void> {
    await Promise.all([...this.#sessions].map((session) => session.close()));
  }

  async stop(): Promise<void> {
    await this.closeSessions();
    await this.server.stop();
    await rm(this.work, { recursive: true, force: true });
  }
}
