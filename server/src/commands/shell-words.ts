/**
 * Splits an exec request's command line into words the way a POSIX shell would, without ever
 * running one: quotes and backslashes are honoured, `~` and `~/...` mean the home, and
 * unquoted `*`, `?` and `[` are remembered so remote wildcards can be matched against
 * directory listings. Anything that would make a shell do more than split words (operators,
 * redirections, substitutions) is refused, never interpreted.
 *
 * Our own parser rather than a library: we need to know which glob characters were quoted
 * (a quoted `*` is a file name, an unquoted one a wildcard) and want refusals, not the
 * operator tokens or environment expansion a general shell-quote parser produces.
 */
import { ErrorCode, KubesftpError } from '../errors.js';

export interface ShellWord {
  /** The word with quotes removed (and a leading `~` kept as typed). */
  value: string;
  /**
   * Present when the word holds an unquoted `*`, `?` or `[`: the word as a glob pattern in
   * which every quoted character is backslash-escaped.
   */
  pattern?: string;
  /** The word started with an unquoted `~` alone or followed by `/`: it names the home. */
  home: boolean;
}

const OPERATORS = new Set([';', '&', '|', '<', '>', '(', ')', '\n']);
const BLANKS = new Set([' ', '\t']);
const GLOB_CHARS = new Set(['*', '?', '[']);
/** Characters a backslash escapes inside double quotes; before others it stays literal. */
const DOUBLE_QUOTE_ESCAPES = new Set(['$', '`', '"', '\\', '\n']);

function refused(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.INVALID_ARGUMENT, message);
}

/** Builds one word from its characters, each marked quoted or not. */
class WordBuilder {
  #value = '';
  #pattern = '';
  #hasGlob = false;
  #started = false;
  /** The first character was an unquoted `~`. */
  #leadingTilde = false;

  get started(): boolean {
    return this.#started;
  }

  /** Marks the word as present even if it stays empty (`''` is a word). */
  start(): void {
    this.#started = true;
  }

  add(char: string, quoted: boolean): void {
    this.#started = true;
    this.#value += char;
    if (!quoted && GLOB_CHARS.has(char)) this.#hasGlob = true;
    // Escaped in the pattern: quoted glob characters and backslashes are literal.
    const literal = quoted && (GLOB_CHARS.has(char) || char === '\\' || char === ']');
    this.#pattern += literal ? `\\${char}` : char;
  }

  /** Called before the first character when it is an unquoted `~`. */
  markLeadingTilde(): void {
    this.#leadingTilde = true;
  }

  build(): ShellWord {
    const namesHome = this.#value === '~' || this.#value.startsWith('~/');
    const word: ShellWord = { value: this.#value, home: namesHome && this.#leadingTilde };
    if (this.#hasGlob) word.pattern = this.#pattern;
    return word;
  }
}

/** A cursor over the command line. */
class Scanner {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  get done(): boolean {
    return this.#at >= this.#text.length;
  }

  peek(): string {
    return this.#text[this.#at] ?? '';
  }

  next(): string {
    const char = this.#text[this.#at] ?? '';
    this.#at += 1;
    return char;
  }
}

function readSingleQuoted(scan: Scanner, word: WordBuilder): void {
  word.start();
  for (;;) {
    if (scan.done) throw refused('unterminated single quote');
    const char = scan.next();
    if (char === "'") return;
    word.add(char, true);
  }
}

function readDoubleQuoted(scan: Scanner, word: WordBuilder): void {
  word.start();
  for (;;) {
    if (scan.done) throw refused('unterminated double quote');
    const char = scan.next();
    if (char === '"') return;
    if (char === '$' || char === '`') throw refused('substitutions are not supported');
    if (char !== '\\') {
      word.add(char, true);
      continue;
    }
    const escaped = scan.next();
    if (escaped === '') throw refused('unterminated double quote');
    if (escaped === '\n') continue;
    if (!DOUBLE_QUOTE_ESCAPES.has(escaped)) word.add('\\', true);
    word.add(escaped, true);
  }
}

/** One character outside quotes; returns false when it ends the current word. */
function readUnquoted(scan: Scanner, word: WordBuilder): boolean {
  const char = scan.next();
  if (BLANKS.has(char)) return false;
  if (OPERATORS.has(char))
    throw refused(`the shell operator ${JSON.stringify(char)} is not supported`);
  if (char === '$' || char === '`') throw refused('substitutions are not supported');
  if (char === "'") readSingleQuoted(scan, word);
  else if (char === '"') readDoubleQuoted(scan, word);
  else if (char === '\\') {
    const escaped = scan.next();
    if (escaped === '') throw refused('a backslash ends the command line');
    if (escaped !== '\n') word.add(escaped, true);
  } else {
    if (char === '~' && !word.started) word.markLeadingTilde();
    word.add(char, false);
  }
  return true;
}

/** Skips a `#` comment up to the end of the line; a newline after it is still an operator. */
function skipComment(scan: Scanner): void {
  while (!scan.done && scan.peek() !== '\n') scan.next();
}

/**
 * The words of `commandLine`. Throws INVALID_ARGUMENT for unterminated quotes, shell operators
 * (`;`, `&`, `|`, redirections, parentheses, a second line) and `$`/backtick substitutions.
 */
export function parseShellWords(commandLine: string): ShellWord[] {
  const scan = new Scanner(commandLine);
  const words: ShellWord[] = [];
  let word = new WordBuilder();
  while (!scan.done) {
    if (!word.started && scan.peek() === '#') {
      skipComment(scan);
      continue;
    }
    if (readUnquoted(scan, word)) continue;
    if (word.started) words.push(word.build());
    word = new WordBuilder();
  }
  if (word.started) words.push(word.build());
  return words;
}
