/**
 * How commands word their errors: the C library's text for each core error code, and file
 * names quoted as GNU coreutils quotes them in messages, so our md5sum and scp print what
 * their system counterparts would.
 */
import { ErrorCode, toKubesftpError } from '../errors.js';

/** strerror() text per code; codes no file operation produces read as a generic I/O error. */
const STRERROR: Partial<Record<ErrorCode, string>> = {
  [ErrorCode.NO_SUCH_FILE]: 'No such file or directory',
  [ErrorCode.PERMISSION_DENIED]: 'Permission denied',
  [ErrorCode.PATH_ESCAPE]: 'Permission denied',
  [ErrorCode.FILE_EXISTS]: 'File exists',
  [ErrorCode.NOT_A_DIRECTORY]: 'Not a directory',
  [ErrorCode.IS_A_DIRECTORY]: 'Is a directory',
  [ErrorCode.DIR_NOT_EMPTY]: 'Directory not empty',
  [ErrorCode.QUOTA_EXCEEDED]: 'Disk quota exceeded',
  [ErrorCode.UNSUPPORTED]: 'Operation not supported',
  [ErrorCode.INVALID_ARGUMENT]: 'Invalid argument',
  [ErrorCode.PROVIDER_UNAVAILABLE]: 'Resource temporarily unavailable',
};

/** The strerror() text a client should see for `err`; details stay in the server log. */
export function errorText(err: unknown): string {
  return STRERROR[toKubesftpError(err).code] ?? 'Input/output error';
}

const LETTER_ESCAPES: Record<string, string> = {
  '\x07': 'a',
  '\b': 'b',
  '\f': 'f',
  '\n': 'n',
  '\r': 'r',
  '\t': 't',
  '\v': 'v',
};
/** Special to a shell anywhere in a word (and ':' because coreutils quotes it in messages). */
const SHELL_SPECIAL = new Set([...' !"$&()*;<=>[^`|\\\'?:']);
/** Fine inside C-style double quotes as well as shell single quotes. */
const DOUBLE_QUOTE_SAFE = /^[\p{L}\p{N}\p{M}\p{P}\p{S} ]$/u;

function isControl(char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  return code < 0x20 || (code >= 0x7f && code < 0xa0);
}

function needsQuoting(name: string): boolean {
  if (name === '') return true;
  return [...name].some(
    (char, i) =>
      isControl(char) ||
      SHELL_SPECIAL.has(char) ||
      (i === 0 && (char === '#' || char === '~')) ||
      (name.length === 1 && (char === '{' || char === '}')),
  );
}

/** Whether coreutils would switch to double quotes: a ' and nothing a shell expands there. */
function prefersDoubleQuotes(name: string): boolean {
  if (!name.includes("'")) return false;
  return [...name].every((char, i) => {
    if ('!"$&()*;<=>[^`|\\?'.includes(char) || isControl(char)) return false;
    if ((char === '{' || char === '}') && name.length > 1) return false;
    if ((char === '#' || char === '~') && i > 0) return false;
    return DOUBLE_QUOTE_SAFE.test(char);
  });
}

/** A control character as coreutils spells it inside $'...': a letter or octal bytes. */
function escapeSequence(char: string): string {
  const letter = LETTER_ESCAPES[char];
  if (letter !== undefined) return `\\${letter}`;
  return [...Buffer.from(char, 'utf8')]
    .map((byte) => `\\${byte.toString(8).padStart(3, '0')}`)
    .join('');
}

/**
 * A file name as GNU coreutils shows it in an error message (its `quotef`): unchanged when a
 * shell would read it back as is, else in single quotes with $'...' for control characters, or
 * in double quotes when that avoids escaping a single quote.
 */
export function quoteName(name: string): string {
  if (!needsQuoting(name)) return name;
  if (prefersDoubleQuotes(name)) return `"${name}"`;
  let out = "'";
  let inEscape = false;
  for (const char of name) {
    if (isControl(char)) {
      if (!inEscape) out += "'$'";
      inEscape = true;
      out += escapeSequence(char);
      continue;
    }
    if (inEscape) out += "''";
    inEscape = false;
    out += char === "'" ? "'\\''" : char;
  }
  return `${out}'`;
}
