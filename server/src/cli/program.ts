/**
 * The `kubesftp` command line. buildProgram() is pure wiring so tests can drive it with their
 * own env, output and runServe; only runMain() touches the real process.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { versionString } from '../version.js';
import {
  OPERATOR_FLAGS,
  toOperatorCommandOptions,
  type OperatorCommandOptions,
} from '../../../operator/src/cli-options.js';
import { addPortableOptions, toPortableOptions, type PortableOptions } from './portable-options.js';
import { optimizeFromNow } from '../optimizing-compiler.js';
import { holdYoungGeneration } from './startup-heap.js';
import { SERVE_FLAGS, toServeOptions, type ServeFlag, type ServeOptions } from './options.js';

export const EXIT_USAGE = 2;

/** What `dumpdata` and `loaddata` were asked to do. */
export interface DataRequest {
  command: 'dumpdata' | 'loaddata';
  configDir: string;
  configFile: string;
  file: string;
  mode: 'skip' | 'replace';
}

export interface ProgramDeps {
  runServe: (options: ServeOptions) => Promise<void>;
  runOperator?: (options: OperatorCommandOptions) => Promise<void>;
  runPortable?: (options: PortableOptions) => Promise<void>;
  runData?: (request: DataRequest) => Promise<void>;
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
function applyEnv(
  command: Command,
  env: Readonly<Record<string, string | undefined>>,
  flags: readonly ServeFlag[] = SERVE_FLAGS,
): void {
  for (const flag of flags) {
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

function addPortableCommand(program: Command, deps: ProgramDeps, env: ProgramEnv): void {
  const portable = addPortableOptions(
    program
      .command('portable')
      .description('serve one directory or S3 prefix now, to one generated account'),
  );
  portable.action(async (opts: Parameters<typeof toPortableOptions>[0]) => {
    const options = (() => {
      try {
        return toPortableOptions(opts, env);
      } catch (err) {
        const reason = err instanceof InvalidArgumentError ? err.message : String(err);
        return portable.error(`error: ${reason}`, {
          exitCode: EXIT_USAGE,
          code: 'kubesftp.invalidFlags',
        });
      }
    })();
    await (deps.runPortable ?? runPortableLazily)(options);
  });
}

/** Loaded lazily, like serve: the server code stays out of `--help`. */
async function runPortableLazily(options: PortableOptions): Promise<void> {
  const { runPortable } = await import('./portable.js');
  await runPortable(options);
}

/** The config flags of `serve`, with their env fallbacks, for the commands that open the provider. */
const CONFIG_FLAGS = SERVE_FLAGS.filter((flag) =>
  ['configDir', 'configFile'].includes(flag.attribute),
);

function addDataCommands(program: Command, deps: ProgramDeps, env: ProgramEnv): void {
  const dump = program
    .command('dumpdata')
    .description('write every user and admin of the configured provider to a new JSON file')
    .requiredOption('--output <file>', 'the dump file to create (mode 0600; never overwritten)');
  const load = program
    .command('loaddata')
    .description('add the users and admins of a dump file to the configured provider')
    .requiredOption('--input <file>', 'a file written by dumpdata')
    .addOption(
      new Option('--mode <mode>', 'for accounts that already exist: keep them or replace them')
        .choices(['skip', 'replace'])
        .default('skip'),
    );
  for (const command of [dump, load]) {
    for (const flag of CONFIG_FLAGS) command.addOption(optionFor(flag));
    command.action(async (_opts, self: Command) => {
      applyEnv(self, env);
      const values = self.opts<Record<string, string>>();
      const run = deps.runData ?? runDataCommand;
      await run({
        command: self.name() as DataRequest['command'],
        configDir: String(values['configDir']),
        configFile: String(values['configFile']),
        file: String(values['output'] ?? values['input']),
        mode: values['mode'] === 'replace' ? 'replace' : 'skip',
      });
    });
  }
}

/** Loaded lazily: the provider code stays out of `--help` and `serve`. */
async function runDataCommand(request: DataRequest): Promise<void> {
  const data = await import('./data.js');
  const options = { ...request, report: (text: string) => void process.stdout.write(text) };
  try {
    await (request.command === 'dumpdata' ? data.runDumpData(options) : data.runLoadData(options));
  } catch (err) {
    // As for serve: the reason on one line, exit status 1.
    process.stderr.write(
      `kubesftp ${request.command}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exitCode = 1;
  }
}

type ProgramEnv = Readonly<Record<string, string | undefined>>;

/** Loaded lazily: the operator's code stays out of `serve` and `--help`. */
async function runOperatorCommand(options: OperatorCommandOptions): Promise<void> {
  const { runOperator } = await import('../../../operator/src/cli.js');
  await runOperator(options);
}

function addOperatorCommand(program: Command, deps: ProgramDeps, env: ProgramEnv): void {
  const operator = program
    .command('operator')
    .description('run the Kubernetes operator: SftpServer and SftpUser resources');
  for (const flag of OPERATOR_FLAGS) operator.addOption(optionFor(flag));
  operator.action(async (_opts, command: Command) => {
    applyEnv(command, env, OPERATOR_FLAGS);
    const run = deps.runOperator ?? runOperatorCommand;
    await run(toOperatorCommandOptions(command.opts()));
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
  addDataCommands(program, deps, env);
  addPortableCommand(program, deps, env);
  addOperatorCommand(program, deps, env);
  // Only serve waits for its first client to compile hot code; every other command works at once.
  program.hook('preAction', (_program, action) => {
    if (action.name() !== 'serve') optimizeFromNow();
  });
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

/** Runs the command line of this process, with the real serve, and sets the exit code. */
export async function runMain(): Promise<void> {
  const runServe = async (options: ServeOptions): Promise<void> => {
    const heap = holdYoungGeneration();
    // Loaded lazily so importing this module (tests, tools) never starts the server code.
    const serve = await import('./serve.js');
    await serve.runServe(options, { started: () => heap.release() });
  };
  const code = await runCli(process.argv.slice(2), { runServe });
  // runServe may have set its own exit code (e.g. 1 for a bad config); keep it unless we failed.
  if (code !== 0) process.exitCode = code;
  // A failed start closed what it had opened; exiting here also covers any handle it could not
  // know of, so the process never lingers half up.
  if (process.exitCode !== undefined && process.exitCode !== 0) process.exit();
}
