/**
 * md5sum, sha1sum, sha256sum, sha384sum and sha512sum computed in the server over the
 * session's Vfs (so they work on any backend and read only what `download` allows), printing
 * what GNU coreutils prints: `<hex>  <name>` lines, `-` for standard input, names with a
 * backslash, newline or carriage return escaped behind a leading `\`, errors on stderr and
 * exit status 1 when any file failed.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Vfs } from '../vfs/types.js';
import { toVirtualPath } from '../vfs/virtual-path.js';
import type { ChecksumCommandName } from './checksum-names.js';
import { InputReader, writeErr, writeOut } from './io.js';
import { errorText, quoteName } from './messages.js';
import type { CommandDefinition, CommandOutcome, CommandRun } from './types.js';
import { expandWord } from './wildcards.js';

const CHUNK = 256 * 1024;
const READ_ONLY = {
  read: true,
  write: false,
  append: false,
  create: false,
  truncate: false,
  exclusive: false,
};

interface Algorithm {
  /** node:crypto's name. */
  hash: string;
  /** The label `--tag` prints. */
  tag: string;
}

interface OutputStyle {
  binary: boolean;
  tag: boolean;
  zero: boolean;
}

const LONG_OPTIONS = ['binary', 'text', 'tag', 'zero'] as const;
const SHORT_OPTIONS: Record<string, (typeof LONG_OPTIONS)[number]> = {
  b: 'binary',
  t: 'text',
  z: 'zero',
};

class UsageError extends Error {}

function applyOption(style: OutputStyle, option: (typeof LONG_OPTIONS)[number]): void {
  if (option === 'binary') style.binary = true;
  else if (option === 'text') style.binary = false;
  else style[option] = true;
}

/** A long option by its full name or an unambiguous prefix, as getopt_long accepts it. */
function longOption(word: string): (typeof LONG_OPTIONS)[number] {
  const name = word.slice(2);
  const exact = LONG_OPTIONS.find((option) => option === name);
  const matches = LONG_OPTIONS.filter((option) => option.startsWith(name));
  const found = exact ?? (matches.length === 1 ? matches[0] : undefined);
  if (name === '' || found === undefined) throw new UsageError(`unrecognized option '${word}'`);
  return found;
}

/** Options anywhere before `--` (GNU getopt permutes them), file names in order. */
function parseArguments(words: string[]): { style: OutputStyle; files: number[] } {
  const style: OutputStyle = { binary: false, tag: false, zero: false };
  const files: number[] = [];
  let optionsEnded = false;
  for (const [index, word] of words.entries()) {
    if (optionsEnded || word === '-' || !word.startsWith('-')) files.push(index);
    else if (word === '--') optionsEnded = true;
    else if (word.startsWith('--')) applyOption(style, longOption(word));
    else for (const letter of word.slice(1)) applyOption(style, shortOption(letter));
  }
  return { style, files };
}

function shortOption(letter: string): (typeof LONG_OPTIONS)[number] {
  const option = SHORT_OPTIONS[letter];
  if (option === undefined) throw new UsageError(`invalid option -- '${letter}'`);
  return option;
}

/** A name as coreutils writes it in a checksum line; the flag says a `\` must lead the line. */
function escapeName(name: string): { text: string; escaped: boolean } {
  if (!/[\\\n\r]/.test(name)) return { text: name, escaped: false };
  const text = name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return { text, escaped: true };
}

function checksumLine(options: {
  algorithm: Algorithm;
  style: OutputStyle;
  name: string;
  hex: string;
}): string {
  const { algorithm, style, hex } = options;
  const { text, escaped } = style.zero
    ? { text: options.name, escaped: false }
    : escapeName(options.name);
  const lead = escaped ? '\\' : '';
  const end = style.zero ? '\0' : '\n';
  if (style.tag) return `${lead}${algorithm.tag} (${text}) = ${hex}${end}`;
  return `${lead}${hex} ${style.binary ? '*' : ' '}${text}${end}`;
}

async function hashStdin(input: InputReader, hash: Hash): Promise<void> {
  for (let chunk = await input.read(CHUNK); chunk.length > 0; chunk = await input.read(CHUNK)) {
    hash.update(chunk);
  }
}

async function hashFile(vfs: Vfs, path: string, hash: Hash): Promise<void> {
  const file = await vfs.open(path, READ_ONLY);
  try {
    for (let position = 0; ;) {
      const chunk = await file.read(CHUNK, position);
      if (chunk.length === 0) break;
      hash.update(chunk);
      position += chunk.length;
    }
  } finally {
    await file.close();
  }
}

async function expandFiles(run: CommandRun, indexes: number[]): Promise<string[]> {
  if (indexes.length === 0) return ['-'];
  const names: string[] = [];
  for (const index of indexes) {
    const word = run.args[index]!;
    names.push(
      ...(word.pattern === undefined
        ? [word.value]
        : await expandWord(word, { vfs: await run.fs(), cwd: run.cwd })),
    );
  }
  return names;
}

async function runChecksum(run: CommandRun, algorithm: Algorithm): Promise<CommandOutcome> {
  let parsed: ReturnType<typeof parseArguments>;
  try {
    parsed = parseArguments(run.args.map((word) => word.value));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    await writeErr(
      run.io,
      `${run.name}: ${err.message}\nTry '${run.name} --help' for more information.\n`,
    );
    return { exitStatus: 1 };
  }
  let failed = false;
  let firstPath: string | undefined;
  // Read once: a second `-` hashes what is left, nothing, as coreutils does.
  const stdin = new InputReader(run.io.input);
  for (const name of await expandFiles(run, parsed.files)) {
    const hash = createHash(algorithm.hash);
    try {
      if (name === '-') await hashStdin(stdin, hash);
      else {
        const path = toVirtualPath(name, run.cwd);
        firstPath ??= path;
        await hashFile(await run.fs(), path, hash);
      }
    } catch (err) {
      failed = true;
      await writeErr(run.io, `${run.name}: ${quoteName(name)}: ${errorText(err)}\n`);
      continue;
    }
    const hex = hash.digest('hex');
    await writeOut(run.io, checksumLine({ algorithm, style: parsed.style, name, hex }));
  }
  return { exitStatus: failed ? 1 : 0, path: firstPath };
}

function checksum(hash: string, tag: string): CommandDefinition {
  return { protocol: 'SSH', run: (run) => runChecksum(run, { hash, tag }) };
}

/** Every name is listed in checksum-names.ts, which the dispatcher reads without this module. */
export const CHECKSUM_COMMANDS: Record<ChecksumCommandName, CommandDefinition> = {
  md5sum: checksum('md5', 'MD5'),
  sha1sum: checksum('sha1', 'SHA1'),
  sha256sum: checksum('sha256', 'SHA256'),
  sha384sum: checksum('sha384', 'SHA384'),
  sha512sum: checksum('sha512', 'SHA512'),
};
