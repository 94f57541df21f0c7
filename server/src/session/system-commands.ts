/**
 * The policy for SSH commands that run system binaries (rsync, git) on a user's home. Those
 * binaries act on the host's files directly, so none of our per-operation checks can run
 * while they work: what can be decided is decided here, before they start (local home only,
 * permissions that hold everywhere in the home, no symlink leading out of it, quota left), and
 * quota usage is made right by a scan once they end. commands/ only translates.
 */
import type { Permission } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { ensureLocalHome } from '../vfs/backends.js';
import { scanLocalHome } from '../vfs/local-scan.js';
import { SessionPolicy } from './policy.js';
import type { SessionContext } from './types.js';

/** Reading only (git-upload-pack, rsync --sender) or changing the home too. */
export type SystemAccess = 'read' | 'write';

/**
 * What a binary with each kind of access can do anywhere in the home: per-directory rules
 * cannot be applied to it, so each of these must hold in every configured directory.
 */
const NEEDED: Record<SystemAccess, readonly Permission[]> = {
  read: ['list', 'download'],
  write: [
    'list',
    'download',
    'upload',
    'overwrite',
    'delete',
    'rename',
    'create_dirs',
    'chmod',
    'chtimes',
  ],
};

export interface SystemCommandGrant {
  /** The home on the host: the working directory of the binary. */
  homeDir: string;
  /** The binary may keep symlinks that stay in the home; otherwise it must disable them. */
  maySymlink: boolean;
  /** Bytes the client may send before the command is stopped; Infinity without a size quota. */
  inputBudget: number;
  /** The ids the binary runs as; undefined runs it as the server's own user. */
  runAs?: { uid: number; gid: number };
  /** Makes quota usage match the disk again; call once the binary has ended. */
  finish(): Promise<void>;
}

function refused(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.PERMISSION_DENIED, message);
}

export class SystemCommandPolicy {
  readonly #policy: SessionPolicy;

  constructor(ctx: SessionContext) {
    this.#policy = new SessionPolicy(ctx);
  }

  /** Checks that the account may run a binary with `access` now; throws a coded error if not. */
  async admit(access: SystemAccess): Promise<SystemCommandGrant> {
    const policy = this.#policy;
    const { user } = policy.ctx;
    policy.ctx.touch();
    if (user.filesystem.provider !== 0) {
      throw new KubesftpError(ErrorCode.UNSUPPORTED, 'this command needs a home on local storage');
    }
    const needed = NEEDED[access];
    if (!policy.perms.grantsEverywhere(needed)) {
      throw refused(`this command needs ${needed.join(', ')} in every directory of the home`);
    }
    await ensureLocalHome(user);
    const { escapingLink } = await scanLocalHome(user.home_dir, { checkLinks: true });
    if (escapingLink !== undefined) {
      throw refused(`the symlink ${escapingLink} leads out of the home on the server's disk`);
    }
    const inputBudget = access === 'write' ? await policy.remainingQuota(true) : Infinity;
    return {
      homeDir: user.home_dir,
      maySymlink: policy.perms.grantsEverywhere(['create_symlinks']),
      inputBudget,
      runAs: this.#runAs(),
      finish: () => (access === 'write' ? this.#rescan() : Promise.resolve()),
    };
  }

  /**
   * As root, the binary runs as the account's own ids, so the kernel bounds it too (no device
   * nodes, no foreign owners, only what that uid may reach). It never runs as root.
   */
  #runAs(): { uid: number; gid: number } | undefined {
    if (process.getuid?.() !== 0) return undefined;
    const { uid, gid } = this.#policy.ctx.user;
    if (uid <= 0) {
      throw refused(
        'this command needs the account to have its own uid when the server runs as root',
      );
    }
    return { uid, gid: gid > 0 ? gid : uid };
  }

  async #rescan(): Promise<void> {
    const policy = this.#policy;
    if (!policy.tracksQuota()) return;
    const { size, files } = await scanLocalHome(policy.ctx.user.home_dir, { checkLinks: false });
    await policy.ctx.quota.reset({ size, files });
  }
}
