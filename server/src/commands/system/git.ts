/**
 * git-upload-pack, git-receive-pack and git-upload-archive over exec: `git` itself, given
 * the one repository path git clients send, made relative to the home. A repository can point
 * git elsewhere by its content (a `.git` file, `commondir`, object alternates); those are
 * refused before git starts. Its configuration can make git run programs (hooks, fsmonitor,
 * signature checks); those settings are overridden on git's command line, which wins over
 * any repository's config, and the system and global config files are not read.
 */
import { ErrorCode, KubesftpError, isKubesftpError } from '../../errors.js';
import type { SystemAccess } from '../../session/system-commands.js';
import type { Vfs } from '../../vfs/types.js';
import { isRegularFile } from '../../vfs/types.js';
import { childPath, toVirtualPath } from '../../vfs/virtual-path.js';
import type { ShellWord } from '../shell-words.js';
import { homeRelative } from './paths.js';

export const GIT_COMMANDS = {
  'git-upload-pack': { subcommand: 'upload-pack', access: 'read' },
  'git-receive-pack': { subcommand: 'receive-pack', access: 'write' },
  'git-upload-archive': { subcommand: 'upload-archive', access: 'read' },
} as const satisfies Record<string, { subcommand: string; access: SystemAccess }>;

export type GitCommandName = keyof typeof GIT_COMMANDS;

/** Settings that would make git run a program or write outside the repository. */
const OVERRIDES = [
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  // updateInstead would check files out into a work tree the config may place anywhere.
  'receive.denyCurrentBranch=refuse',
  // gc after a push runs more git commands, each reading the repository's config again.
  'receive.autogc=false',
  'gpg.program=false',
  'gpg.openpgp.program=false',
  'gpg.x509.program=false',
  'gpg.ssh.program=false',
];

/** Read by git in place of the user's and the system's config files. */
export const GIT_ENV = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_ATTR_NOSYSTEM: '1',
  GIT_NO_REPLACE_OBJECTS: '1',
  GIT_NO_LAZY_FETCH: '1',
  GIT_TERMINAL_PROMPT: '0',
};

function refused(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.PERMISSION_DENIED, message);
}

/** The single repository argument, relative to the home. */
export function gitRepository(words: ShellWord[]): string {
  if (words.length !== 1) throw refused('exactly one repository path is expected');
  const word = words[0]!;
  // git expands "~/" itself, even quoted (ssh://host/~/repo arrives as '~/repo').
  const namesHome = word.value === '~' || word.value.startsWith('~/');
  const repository = homeRelative({ ...word, home: word.home || namesHome });
  if (repository.startsWith('-')) throw refused('options are not accepted');
  return repository;
}

export function gitArgs(command: GitCommandName, repository: string): string[] {
  const overrides = OVERRIDES.flatMap((setting) => ['-c', setting]);
  return [...overrides, GIT_COMMANDS[command].subcommand, repository];
}

async function exists(vfs: Vfs, path: string): Promise<boolean> {
  try {
    await vfs.lstat(path);
    return true;
  } catch (err) {
    if (isKubesftpError(err, 'NO_SUCH_FILE') || isKubesftpError(err, 'NOT_A_DIRECTORY')) {
      return false;
    }
    throw err;
  }
}

async function isFile(vfs: Vfs, path: string): Promise<boolean> {
  try {
    return isRegularFile(await vfs.lstat(path));
  } catch {
    return false;
  }
}

/**
 * Refuses a repository that would send git elsewhere. git tries the path as given, with
 * `.git` appended, and the `.git` directory inside each; all four are checked.
 */
export async function checkRepository(vfs: Vfs, repository: string): Promise<void> {
  const base = toVirtualPath(repository, '/');
  const bases = base === '/' ? [base] : [base, `${base}.git`];
  const candidates = bases.flatMap((dir) => [dir, childPath(dir, '.git')]);
  for (const dir of candidates) {
    if (await isFile(vfs, dir)) throw refused(`${dir} is a link to another repository`);
    for (const pointer of [
      'commondir',
      'objects/info/alternates',
      'objects/info/http-alternates',
    ]) {
      if (await exists(vfs, childPath(dir, pointer))) {
        throw refused(`${childPath(dir, pointer)} points git at other repositories`);
      }
    }
  }
}
