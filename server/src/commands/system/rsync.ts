/**
 * rsync over exec: the system binary in server mode, confined by its arguments. Only
 * `rsync --server ...` as rsync clients send it is accepted; options come from an allow list
 * (nothing that runs a program, reads or writes a file named by the client, follows links
 * out of the tree, sets ACLs or extended attributes), path arguments
 * are made relative to the home, and the options the spec asks for are added: --safe-links
 * when the account may create symlinks, --munge-links otherwise.
 */
import { ErrorCode, KubesftpError } from '../../errors.js';
import type { SystemAccess } from '../../session/system-commands.js';
import type { ShellWord } from '../shell-words.js';
import { homeRelative } from './paths.js';

/** Short options that take no value and are safe on the server side. */
const SAFE_SHORT = new Set([...'vqcarRbdlHpEogDtSnWxyzhiPOJNUm08uIC']);

/** Long options without a value that are safe on the server side. */
const SAFE_FLAGS = new Set([
  '--server',
  '--sender',
  '--delete',
  '--delete-before',
  '--delete-during',
  '--delete-delay',
  '--delete-after',
  '--delete-excluded',
  '--delete-missing-args',
  '--ignore-missing-args',
  '--ignore-errors',
  '--force',
  '--size-only',
  '--ignore-times',
  '--ignore-existing',
  '--existing',
  '--update',
  '--checksum',
  '--partial',
  '--delay-updates',
  '--inplace',
  '--append',
  '--append-verify',
  '--backup',
  '--numeric-ids',
  '--safe-links',
  '--munge-links',
  '--from0',
  '--no-implied-dirs',
  '--prune-empty-dirs',
  '--fuzzy',
  '--whole-file',
  '--sparse',
  '--one-file-system',
  '--hard-links',
  '--omit-dir-times',
  '--omit-link-times',
  '--remove-source-files',
  '--remove-sent-files',
  '--stats',
  '--list-only',
  '--dry-run',
  '--mkpath',
  '--trust-sender',
]);

/** Long options whose value is not a path and is harmless. */
const SAFE_VALUED = new Set([
  '--timeout',
  '--contimeout',
  '--bwlimit',
  '--max-delete',
  '--max-size',
  '--min-size',
  '--modify-window',
  '--compress-level',
  '--compress-choice',
  '--zc',
  '--zl',
  '--checksum-choice',
  '--cc',
  '--checksum-seed',
  '--block-size',
  '--suffix',
  '--log-format',
  '--out-format',
  '--info',
  '--debug',
  '--stop-after',
  '--stop-at',
  '--max-alloc',
]);

/** Long options whose value is a path inside the destination: checked like path arguments. */
const PATH_VALUED = new Set([
  '--partial-dir',
  '--backup-dir',
  '--compare-dest',
  '--copy-dest',
  '--link-dest',
]);

/** Options removed for the client: what each would do is the reason. */
const REFUSED: Record<string, string> = {
  '-e': 'runs a program',
  '--rsh': 'runs a program',
  '--rsync-path': 'runs a program',
  '--remote-option': 'passes options past these checks',
  '-M': 'passes options past these checks',
  '--protect-args': 'hides the paths from these checks',
  '--secluded-args': 'hides the paths from these checks',
  '-s': 'hides the paths from these checks',
  '--copy-links': 'follows symlinks',
  '-L': 'follows symlinks',
  '--copy-unsafe-links': 'follows symlinks out of the tree',
  '--copy-dirlinks': 'follows symlinks',
  '-k': 'follows symlinks',
  '--keep-dirlinks': 'follows symlinks',
  '-K': 'follows symlinks',
  '--temp-dir': 'writes outside the tree',
  '-T': 'writes outside the tree',
  '--log-file': 'writes a file the client names',
  '--write-batch': 'writes a file the client names',
  '--only-write-batch': 'writes a file the client names',
  '--read-batch': 'reads a file the client names',
  '--files-from': 'reads a file the client names',
  '--exclude-from': 'reads a file the client names',
  '--include-from': 'reads a file the client names',
  '--filter': 'can read a file the client names',
  '-f': 'can read a file the client names',
  '-F': 'reads filter files that can name any file',
  '--password-file': 'reads a file the client names',
  '--daemon': 'starts a daemon',
  '--config': 'reads a daemon configuration',
  '--dparam': 'sets daemon parameters',
  '--acls': 'sets ACLs',
  '-A': 'sets ACLs',
  '--xattrs': 'sets extended attributes',
  '-X': 'sets extended attributes',
  '--copy-devices': 'reads devices',
  '--write-devices': 'writes devices',
  '--super': 'acts as root',
  '--fake-super': 'stores owners in extended attributes',
  '--chown': 'changes owners',
  '--usermap': 'changes owners',
  '--groupmap': 'changes owners',
};

/**
 * Always added: no setuid, setgid or sticky bit on what is received (the policy's 0777
 * limit). Options that change what the file list carries (-o, -g, -D) must match the client's
 * and cannot be turned off here; the binary never runs as root, so the kernel refuses device
 * nodes and foreign owners instead.
 */
const FORCED = ['--chmod=ugo-st'];

export interface RsyncInvocation {
  access: SystemAccess;
  /** The paths the client named, relative to the home. */
  paths: string[];
  /** The binary's arguments, once the policy said whether symlinks may be kept. */
  args(maySymlink: boolean): string[];
}

function refused(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.PERMISSION_DENIED, message);
}

function checkRefused(option: string): void {
  const reason = REFUSED[option];
  if (reason !== undefined) throw refused(`the option ${option} is not allowed: it ${reason}`);
}

/** A group of short options; `e` takes the rest as rsync's capability string ("-e.iLsfxC"). */
function checkShortGroup(word: string): void {
  for (let i = 1; i < word.length; i += 1) {
    const letter = word[i]!;
    if (letter === 'e') {
      if (word[i + 1] !== '.') checkRefused('-e');
      return;
    }
    checkRefused(`-${letter}`);
    if (!SAFE_SHORT.has(letter)) throw refused(`the option -${letter} is not supported`);
  }
}

/** A long option, its value checked when it names a path. */
function checkLongOption(word: string): string {
  const equals = word.indexOf('=');
  const name = equals < 0 ? word : word.slice(0, equals);
  checkRefused(name);
  if (name === '--files-from' && word === '--files-from=-') return word;
  if (name.startsWith('--no-') || SAFE_FLAGS.has(name)) {
    if (equals >= 0) throw refused(`the option ${name} takes no value`);
    return word;
  }
  if (equals < 0)
    throw refused(`the option ${name} is not supported, or needs its value after "="`);
  if (SAFE_VALUED.has(name)) return word;
  if (PATH_VALUED.has(name)) {
    const value = word.slice(equals + 1);
    return `${name}=${homeRelative({ value, home: false })}`;
  }
  throw refused(`the option ${name} is not supported`);
}

/** Checks an rsync server command line and builds the one the binary runs. */
export function rsyncInvocation(words: ShellWord[]): RsyncInvocation {
  if (words[0]?.value !== '--server') {
    throw refused('only rsync clients are served: the command must start with --server');
  }
  const kept: string[] = [];
  let index = 0;
  for (; index < words.length; index += 1) {
    const word = words[index]!.value;
    if (!word.startsWith('-') || word === '-') break;
    if (word.startsWith('--')) kept.push(checkLongOption(word));
    else {
      checkShortGroup(word);
      kept.push(word);
    }
  }
  const paths = words.slice(index).map((word) => homeRelative(word));
  if (paths.length < 2) throw refused('rsync needs a placeholder and at least one path');
  const sender = kept.includes('--sender');
  const removes = kept.includes('--remove-source-files') || kept.includes('--remove-sent-files');
  return {
    access: sender && !removes ? 'read' : 'write',
    paths: paths.slice(1),
    // Our options last among the options, so they win over the client's.
    args: (maySymlink) => [
      ...kept,
      ...FORCED,
      maySymlink ? '--safe-links' : '--munge-links',
      ...paths,
    ],
  };
}
