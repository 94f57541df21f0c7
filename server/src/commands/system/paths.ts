/**
 * Path arguments for system binaries, whose working directory is the home: each becomes a
 * path relative to it. A leading "/" or "~/" means the home, as everywhere on this server;
 * ".." and wildcards that could match it are refused, as is a leading "~" the binary would
 * read as another account's home.
 */
import { ErrorCode, KubesftpError } from '../../errors.js';
import type { ShellWord } from '../shell-words.js';

const GLOB_META = /[*?[]/;

function refused(path: string, why: string): KubesftpError {
  return new KubesftpError(ErrorCode.PERMISSION_DENIED, `${JSON.stringify(path)}: ${why}`);
}

/** Throws PERMISSION_DENIED for what could leave the home; the path relative to it otherwise. */
export function homeRelative(word: ShellWord): string {
  const typed = word.home ? word.value.slice(1) : word.value;
  if (typed.includes('\0')) throw refused(typed, 'a NUL byte is not allowed');
  const segments = typed.split('/');
  for (const segment of segments) {
    if (segment === '..') throw refused(typed, '".." is not allowed');
    // A pattern the binary expands itself must not match "..": only a leading dot can.
    if (segment.startsWith('.') && GLOB_META.test(segment)) {
      throw refused(typed, 'a wildcard after a leading dot is not allowed');
    }
  }
  const relative = typed.replace(/^\/+/, '');
  if (relative.startsWith('~')) throw refused(typed, 'a leading "~" is not allowed');
  return relative === '' ? '.' : relative;
}
