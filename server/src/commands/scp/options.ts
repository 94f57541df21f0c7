/**
 * The flags OpenSSH's scp client passes to the remote scp: -t (sink: we receive) or -f
 * (source: we send), -r, -p, -d, -v, then the paths. Flags may be grouped ("-prt"), as getopt
 * reads them; -v, -q and -E change nothing here. Client-side flags are refused.
 */
import { ErrorCode, KubesftpError } from '../../errors.js';
import type { ShellWord } from '../shell-words.js';

export interface ScpOptions {
  direction: 'sink' | 'source';
  recursive: boolean;
  /** -p: keep modification and access times and modes. */
  preserve: boolean;
  /** -d: the target must be a directory (several files are uploaded). */
  targetIsDirectory: boolean;
  paths: ShellWord[];
}

const IGNORED = new Set(['v', 'q', 'E']);

function usage(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.INVALID_ARGUMENT, message);
}

function applyFlags(options: ScpOptions & { sink: boolean; source: boolean }, flags: string): void {
  for (const flag of flags) {
    if (flag === 't') options.sink = true;
    else if (flag === 'f') options.source = true;
    else if (flag === 'r') options.recursive = true;
    else if (flag === 'p') options.preserve = true;
    else if (flag === 'd') options.targetIsDirectory = true;
    else if (!IGNORED.has(flag)) throw usage(`unsupported option -${flag}`);
  }
}

export function parseScpOptions(args: ShellWord[]): ScpOptions {
  const parsed = {
    direction: 'sink' as const,
    recursive: false,
    preserve: false,
    targetIsDirectory: false,
    paths: [] as ShellWord[],
    sink: false,
    source: false,
  };
  let optionsEnded = false;
  for (const word of args) {
    // As BSD getopt in OpenSSH's scp: options end at "--" or at the first path.
    if (optionsEnded || !word.value.startsWith('-') || word.value === '-') {
      parsed.paths.push(word);
      optionsEnded = true;
    } else if (word.value === '--') optionsEnded = true;
    else applyFlags(parsed, word.value.slice(1));
  }
  if (parsed.sink === parsed.source) {
    throw usage(
      'scp runs here only as the remote end of a copy (-t or -f); use -3 to copy between two hosts',
    );
  }
  if (parsed.paths.length === 0) throw usage('no path given');
  if (parsed.sink && parsed.paths.length > 1) throw usage('ambiguous target');
  return {
    direction: parsed.sink ? 'sink' : 'source',
    recursive: parsed.recursive,
    preserve: parsed.preserve,
    targetIsDirectory: parsed.targetIsDirectory,
    paths: parsed.paths,
  };
}
