/**
 * Remote wildcards, matched the way a shell's pathname expansion would, but against directory
 * listings read through the session's Vfs (so permissions apply and any backend works), never
 * by a shell. A pattern that matches nothing stays as typed, as in sh, and the command then
 * reports the name as missing.
 */
import type { Vfs } from '../vfs/types.js';
import { toVirtualPath } from '../vfs/virtual-path.js';
import type { ShellWord } from './shell-words.js';

/** A bound on the names one word may expand to, so a pattern cannot exhaust memory. */
export const MAX_EXPANSIONS = 10_000;
const LIST_BATCH = 256;
const GLOB_META = /(?<!\\)[*?[]/;

/** The word as a path the user meant: `~` and `~/x` name the home ("/" and "/x"). */
export function wordPath(word: ShellWord): string {
  return word.home ? `/${word.value.slice(2)}` : word.value;
}

/** Matches one bracket expression starting at `pattern[at]` ('['); undefined if unterminated. */
function bracketToRegExp(pattern: string, at: number): { source: string; end: number } | undefined {
  let i = at + 1;
  let source = '[';
  if (pattern[i] === '!' || pattern[i] === '^') {
    source += '^';
    i += 1;
  }
  let first = true;
  for (; i < pattern.length; i += 1) {
    const char = pattern[i]!;
    if (char === ']' && !first) return { source: `${source}]`, end: i };
    first = false;
    if (char === '\\' && i + 1 < pattern.length) {
      i += 1;
      source += `\\${pattern[i]!}`;
    } else if (char === '-') source += '-';
    else source += escapeRegExp(char);
  }
  return undefined;
}

function escapeRegExp(char: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(char) ? `\\${char}` : char;
}

/** One path segment's glob as an anchored regular expression. */
export function segmentToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i]!;
    if (char === '\\' && i + 1 < pattern.length) {
      i += 1;
      source += escapeRegExp(pattern[i]!);
    } else if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else if (char === '[') {
      const bracket = bracketToRegExp(pattern, i);
      if (bracket === undefined) source += '\\[';
      else {
        source += bracket.source;
        i = bracket.end;
      }
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, 'su');
}

/** Removes the pattern's escapes: the literal name it stands for. */
function unescape(segment: string): string {
  return segment.replace(/\\(.)/gsu, '$1');
}

async function listNames(vfs: Vfs, dir: string): Promise<string[]> {
  const handle = await vfs.opendir(dir);
  const names: string[] = [];
  try {
    for (let batch = await handle.next(LIST_BATCH); batch; batch = await handle.next(LIST_BATCH)) {
      for (const entry of batch) names.push(entry.name);
      if (names.length > MAX_EXPANSIONS) break;
    }
  } finally {
    await handle.close();
  }
  return names;
}

/** The names in `prefix` (as typed: relative or absolute) matching one glob segment. */
async function matchSegment(
  options: { vfs: Vfs; cwd: string },
  prefix: string,
  segment: string,
): Promise<string[]> {
  const regexp = segmentToRegExp(segment);
  // As in sh, a leading dot is matched only by a leading dot in the pattern.
  const dotsAllowed = segment.startsWith('.');
  let names: string[];
  try {
    names = await listNames(options.vfs, toVirtualPath(prefix === '' ? '.' : prefix, options.cwd));
  } catch {
    return [];
  }
  return names
    .filter((name) => name !== '.' && name !== '..')
    .filter((name) => (dotsAllowed || !name.startsWith('.')) && regexp.test(name))
    .map((name) => `${prefix}${name}`);
}

async function existing(paths: string[], options: { vfs: Vfs; cwd: string }): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) {
    try {
      await options.vfs.lstat(toVirtualPath(path, options.cwd));
      found.push(path);
    } catch {
      // Not there (or not visible to this user): not a match.
    }
  }
  return found;
}

/**
 * The paths `word` stands for: itself when it has no unquoted wildcard or matches nothing,
 * else every match in byte order. Paths stay relative when the word was relative.
 */
export async function expandWord(
  word: ShellWord,
  options: { vfs: Vfs; cwd: string },
): Promise<string[]> {
  const typed = wordPath(word);
  if (word.pattern === undefined) return [typed];
  const pattern = word.home ? `/${word.pattern.slice(2)}` : word.pattern;
  const segments = pattern.split('/');
  let prefixes = [pattern.startsWith('/') ? '/' : ''];
  for (const [index, segment] of segments.entries()) {
    if (segment === '') continue;
    const last = index === segments.length - 1;
    const next: string[] = [];
    for (const prefix of prefixes) {
      if (!GLOB_META.test(segment)) next.push(`${prefix}${unescape(segment)}`);
      else next.push(...(await matchSegment(options, prefix, segment)));
      if (next.length > MAX_EXPANSIONS) return [typed];
    }
    prefixes = last ? next : next.map((p) => `${p}/`);
  }
  const candidates = prefixes.map((p) => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p));
  // Literal segments after a wildcard were taken on trust; keep only what exists.
  const matches = await existing(candidates, options);
  if (matches.length === 0) return [typed];
  return matches.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
