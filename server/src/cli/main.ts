#!/usr/bin/env node
/**
 * The `kubesftp` command line. buildProgram() is pure wiring so tests can drive it with their
 * own env, output and runServe; only the block at the bottom touches the real process.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { versionString } from '../version.js';
import { SERVE_FLAGS, toServeOptions, type ServeFlag, type ServeOptions } from './options.js';

export const EXIT_USAGE = 2;

export interface ProgramDeps {
  runServe: (options: ServeOptions) => Promise<void>;
  env?: Readonly<Record<string, string | undefined>>;
  writeOut?: (text: string) => void;
  writeErr?: (text: string) => void;
}

function optionFor(flag: ServeFlag): Option {
  const option = new Option(flag.flags, `${flag.description} (env ${flag.env})`).default(
    flag.defaultValue,
  );
  if (flag.parse !== undefined) option.argParser(flag.parse);
  // `--log-compress` alone means true.
  if (typeof flag.defaultValue === 'boolean') option.preset('true');
  return option;
}

/** Env values fill flags left at their default; a bad env value is a usage error naming it. */
function applyEnv(command: Command, env: Readonly<Record<string, string | undefined>>): void {
  for (const flag of SERVE_FLAGS) {
    const raw = env[flag.env];
    if (raw === undefined || command.getOptionValueSource(flag.attribute) !== 'default') continue;
    try {
      command.setOptionValueWithSource(flag.attribute, flag.parse ? flag.parse(raw) : raw, 'env');
    } catch (err) {
      const reason = err instanceof InvalidArgumentError ? err.message : String(err);
      command.error(`error: environment variable ${flag.env}="${raw}": ${reason}`, {
        exitCode: EXIT_USAGE,
        code: 'kubesftp.invalidEnv',
      });
    }
  }
}

function addLaterCommand(program: Command, name: string, summary: string): void {
  program
    .command(name)
    .description(`${summary} (not available yet)`)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      program.error(`error: "kubesftp ${name}" is not available yet`, { exitCode: EXIT_USAGE });
    });
}

export function buildProgram(deps: ProgramDeps): Command {
  const env = deps.env ?? process.env;
  const program = new Command('kubesftp')
    .description('SFTP server whose accounts can be Kubernetes resources')
    .version(`kubesftp ${versionString()}`, '-v, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride((err) => {
      throw err.exitCode === 0 ? err : new CommanderError(EXIT_USAGE, err.code, err.message);
    });
  program.configureOutput({
    writeOut: deps.writeOut ?? ((text) => process.stdout.write(text)),
    writeErr: deps.writeErr ?? ((text) => process.stderr.write(text)),
  });
  const serve = program.command('serve').description('start the SFTP server');
  for (const flag of SERVE_FLAGS) serve.addOption(optionFor(flag));
  serve.action(async (_opts, command: Command) => {
    applyEnv(command, env);
    await deps.runServe(toServeOptions(command.opts()));
  });
  addLaterCommand(program, 'portable', 'serve a single directory');
  addLaterCommand(program, 'operator', 'run the Kubernetes operator');
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function runCli(argv: readonly string[], deps: ProgramDeps): Promise<number> {
  try {
    await buildProgram(deps).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const runServe = async (options: ServeOptions): Promise<void> => {
    // Loaded lazily so importing this module (tests, tools) never starts the server code.
    const serve = await import('./serve.js');
    await serve.runServe(options);
  };
  const code = await runCli(process.argv.slice(2), { runServe });
  // runServe may have set its own exit code (e.g. 1 for a bad config); keep it unless we failed.
  if (code !== 0) process.exitCode = code;
  // A failed start closed what it had opened; exiting here also covers any handle it could not
  // know of, so the process never lingers half up.
  if (process.exitCode !== undefined && process.exitCode !== 0) process.exit();
}
