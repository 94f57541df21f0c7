/**
 * The commands that run system binaries on a local home: rsync and git's three pack
 * commands. Each checks its arguments, asks the policy layer for a grant (which refuses S3
 * homes, narrow permissions, symlinks out of the home and an exhausted quota), runs the
 * binary, and lets the policy rescan the home for quota once it ended.
 */
import { ErrorCode, isKubesftpError } from '../../errors.js';
import type { SystemAccess, SystemCommandGrant } from '../../session/system-commands.js';
import { toVirtualPath } from '../../vfs/virtual-path.js';
import { writeErr } from '../io.js';
import type { SystemCommandName } from '../system-names.js';
import type { CommandDefinition, CommandOutcome, CommandRun } from '../types.js';
import { runChild } from './child.js';
import {
  checkRepository,
  GIT_COMMANDS,
  GIT_ENV,
  gitArgs,
  gitRepository,
  type GitCommandName,
} from './git.js';
import { rsyncInvocation } from './rsync.js';

/** Refusals whose message we wrote ourselves and may show: they name virtual paths only. */
const SHOWN = new Set<string>([
  ErrorCode.PERMISSION_DENIED,
  ErrorCode.UNSUPPORTED,
  ErrorCode.QUOTA_EXCEEDED,
  ErrorCode.INVALID_ARGUMENT,
]);

interface Prepared {
  access: SystemAccess;
  /** The virtual path the command works on, for the log. */
  path: string;
  /** Checks that need the policy layer, after the grant. */
  check?: () => Promise<void>;
  invoke(grant: SystemCommandGrant): { file: string; args: string[]; env?: Record<string, string> };
}

async function runSystem(run: CommandRun, prepare: () => Prepared): Promise<CommandOutcome> {
  let prepared: Prepared;
  let grant: SystemCommandGrant;
  try {
    prepared = prepare();
    grant = await run.admitSystem(prepared.access);
    await prepared.check?.();
  } catch (err) {
    if (!isKubesftpError(err) || !SHOWN.has(err.code)) throw err;
    await writeErr(run.io, `${run.name}: ${err.message}\n`);
    return { exitStatus: 1 };
  }
  try {
    const result = await runChild({ run, grant, ...prepared.invoke(grant) });
    if (result.overQuota) {
      await writeErr(run.io, `${run.name}: stopped: the upload passed the quota\n`);
      return { exitStatus: 1, path: prepared.path };
    }
    return { exitStatus: result.exitStatus, path: prepared.path };
  } finally {
    await grant.finish();
  }
}

export const RSYNC_COMMAND: CommandDefinition = {
  protocol: 'SSH',
  run: (run) =>
    runSystem(run, () => {
      const invocation = rsyncInvocation(run.args);
      return {
        access: invocation.access,
        path: toVirtualPath(invocation.paths.at(-1) ?? '.', '/'),
        invoke: (grant) => ({ file: 'rsync', args: invocation.args(grant.maySymlink) }),
      };
    }),
};

function gitCommand(name: GitCommandName): CommandDefinition {
  return {
    protocol: 'SSH',
    run: (run) =>
      runSystem(run, () => {
        const repository = gitRepository(run.args);
        return {
          access: GIT_COMMANDS[name].access,
          path: toVirtualPath(repository, '/'),
          check: async () => checkRepository(await run.fs(), repository),
          invoke: () => ({ file: 'git', args: gitArgs(name, repository), env: GIT_ENV }),
        };
      }),
  };
}

/** Every name is listed in ../system-names.ts, which the dispatcher reads without this module. */
export const SYSTEM_COMMANDS: Record<SystemCommandName, CommandDefinition> = {
  rsync: RSYNC_COMMAND,
  'git-upload-pack': gitCommand('git-upload-pack'),
  'git-receive-pack': gitCommand('git-receive-pack'),
  'git-upload-archive': gitCommand('git-upload-archive'),
};
