/** Shared set-up for the policy tests: a policy layer and a policy-free view of one backend. */
import type { User } from '../dataprovider/types.js';
import { DirectVfs } from '../vfs/direct.js';
import { MemoryBackend } from '../vfs/memory.js';
import { flags } from '../vfs/test-support.js';
import type { OpenFlags, Vfs } from '../vfs/types.js';
import { PolicyVfs } from './policy-vfs.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import type { CommandRecord, QuotaTracker, SessionContext, TransferRecord } from './types.js';

export { READ } from '../vfs/test-support.js';
/** A client's usual upload: create or truncate, then write. */
export const WRITE: OpenFlags = flags({ write: true, create: true, truncate: true });

export interface PolicySetup {
  /** The policy layer, as a session sees it. */
  fs: PolicyVfs;
  backend: MemoryBackend;
  ctx: SessionContext;
  /** The same backend without policy, to arrange and inspect the tree. */
  inner: DirectVfs;
  usage: { size: number; files: number };
  transfers: TransferRecord[];
  commands: CommandRecord[];
}

/**
 * A quota the way one session sees it, without a provider: space is taken against the limits
 * and the usage plus what is taken, and settled into the usage.
 */
export function heldQuota(user: User, usage: { size: number; files: number }): QuotaTracker {
  const held = { size: 0, files: 0 };
  const fits = (size: number, files: number): boolean =>
    (user.quota_size <= 0 || usage.size + held.size + size <= user.quota_size) &&
    (user.quota_files <= 0 || usage.files + held.files + files <= user.quota_files);
  const tryTake = (size: number, files: number): boolean => {
    if (!fits(size, files)) return false;
    held.size += size;
    held.files += files;
    return true;
  };
  return {
    tryTake,
    take: async (size, files) => {
      if (!tryTake(size, files)) {
        throw new KubesftpError(ErrorCode.QUOTA_EXCEEDED, 'quota exceeded');
      }
      return Promise.resolve();
    },
    settle: async (change) => {
      usage.size += change.sizeDelta;
      usage.files += change.filesDelta;
      held.size -= change.takenSize;
      held.files -= change.takenFiles;
      return Promise.resolve();
    },
    usage: () => Promise.resolve({ ...usage }),
    reset: (scanned) => {
      Object.assign(usage, scanned);
      return Promise.resolve();
    },
  };
}

export function setup(
  overrides: Partial<User> = {},
  settings: Partial<SessionContext> = {},
): PolicySetup {
  const usage = { size: 0, files: 0 };
  const transfers: TransferRecord[] = [];
  const commands: CommandRecord[] = [];
  const user = {
    username: 'alice',
    permissions: { '/': ['*'] },
    quota_size: 0,
    quota_files: 0,
    uid: 0,
    gid: 0,
    ...overrides,
  } as User;
  const ctx: SessionContext = {
    user,
    connectionId: 'c1',
    protocol: 'SFTP',
    events: { transfer: (r) => transfers.push(r), command: (r) => commands.push(r) },
    quota: heldQuota(user, usage),
    setstatMode: 0,
    trackQuota: 1,
    chownAnyId: false,
    touch: () => undefined,
    ...settings,
  };
  const backend = new MemoryBackend({ uid: 1000, gid: 1000 });
  const inner = new DirectVfs(backend);
  return { fs: new PolicyVfs(backend, ctx), backend, ctx, inner, usage, transfers, commands };
}

/** Writes like a client does: a refused write is followed by the handle being abandoned. */
export async function upload(fs: Vfs, path: string, data: Buffer): Promise<void> {
  const file = await fs.open(path, WRITE);
  try {
    await file.write(data, 0);
  } catch (err) {
    await file.abort();
    throw err;
  }
  await file.close();
}
