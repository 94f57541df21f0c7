/**
 * The exec dispatcher: one request table from command name to implementation. It splits the
 * command line into words (never running a shell), refuses what is unknown or not enabled with
 * a line on stderr and exit status 1, runs the rest with the session's policy layer opened
 * under the command's protocol, writes one `command` log record (sender SSHCommand) per
 * request, and reports successful commands to the `ssh_cmd` action seam.
 */
import type { Logger } from 'pino';
import type { SshCommandName } from '../config/effective.js';
import type { User } from '../dataprovider/types.js';
import type { SystemAccess, SystemCommandGrant } from '../session/system-commands.js';
import type { SessionBandwidth } from '../session/bandwidth.js';
import type { Protocol, SessionEvents, SessionRef } from '../session/types.js';
import type { Vfs } from '../vfs/types.js';
import { CHECKSUM_COMMAND_PROTOCOLS } from './checksum-names.js';
import { writeErr, type CommandIo } from './io.js';
import { errorText } from './messages.js';
import { parseShellWords, type ShellWord } from './shell-words.js';
import { SYSTEM_COMMAND_PROTOCOLS } from './system-names.js';
import type { CommandDefinition, CommandOutcome, CommandRun } from './types.js';
import { WORKING_DIR_COMMANDS } from './working-dir.js';

/**
 * A command whose module loads on its first run: a listening server that nobody asks for scp,
 * a checksum, rsync or git does not hold their code.
 */
function loadedOnUse(
  protocol: Protocol,
  load: () => Promise<CommandDefinition>,
): CommandDefinition {
  return { protocol, run: async (run) => (await load()).run(run) };
}

/**
 * Every name of a module's table, from a list of names and protocols that loads nothing, each
 * loading the module on its first run.
 */
function tableLoadedOnUse<Name extends string>(
  protocols: Readonly<Record<Name, Protocol>>,
  load: () => Promise<Readonly<Record<Name, CommandDefinition>>>,
): Record<Name, CommandDefinition> {
  const names = Object.keys(protocols) as Name[];
  return Object.fromEntries(
    names.map((name) => [name, loadedOnUse(protocols[name], async () => (await load())[name])]),
  ) as Record<Name, CommandDefinition>;
}

/** Every command kubesftp implements; `enabled_ssh_commands` picks among them. */
export const COMMAND_TABLE: Partial<Record<SshCommandName, CommandDefinition>> = {
  scp: loadedOnUse('SCP', async () => (await import('./scp/index.js')).SCP_COMMAND),
  ...tableLoadedOnUse(
    CHECKSUM_COMMAND_PROTOCOLS,
    async () => (await import('./checksum.js')).CHECKSUM_COMMANDS,
  ),
  ...WORKING_DIR_COMMANDS,
  ...tableLoadedOnUse(
    SYSTEM_COMMAND_PROTOCOLS,
    async () => (await import('./system/index.js')).SYSTEM_COMMANDS,
  ),
};

/** Exec requests start in the home, as a login shell would. */
const START_DIR = '/';

export interface CommandServiceOptions {
  enabled: ReadonlySet<SshCommandName>;
  events: SessionEvents;
  /** Opens the user's home through the policy layer, as SFTP sessions do. */
  openFs(user: User, session: SessionRef): Promise<Vfs>;
  /** The policy for system binaries (rsync, git) acting on the user's home. */
  systemPolicy(
    user: User,
    session: SessionRef,
  ): { admit(access: SystemAccess): Promise<SystemCommandGrant> };
  /** Replaces COMMAND_TABLE in tests. */
  table?: Partial<Record<SshCommandName, CommandDefinition>>;
}

export interface ExecRequest {
  commandLine: string;
  io: CommandIo;
  user: User;
  connectionId: string;
  touch(): void;
  /** The connection's byte rates, shared with its other channels. */
  bandwidth?: SessionBandwidth;
  log: Logger;
  /** Aborted when the client disconnects or the server shuts down. */
  signal: AbortSignal;
}

/** Why a request never reached a command. */
class Refusal extends Error {}

export class CommandService {
  readonly #o: CommandServiceOptions;
  readonly #table: Partial<Record<SshCommandName, CommandDefinition>>;

  constructor(options: CommandServiceOptions) {
    this.#o = options;
    this.#table = options.table ?? COMMAND_TABLE;
  }

  /** Runs one exec request to its end; resolves with the exit status to send. */
  async run(request: ExecRequest): Promise<number> {
    let words: ShellWord[];
    let found: { name: SshCommandName; definition: CommandDefinition };
    try {
      words = parseShellWords(request.commandLine);
      found = this.#lookup(words[0]?.value ?? '');
    } catch (err) {
      return this.#refuse(request, err);
    }
    const outcome = await this.#execute(request, { ...found, args: words.slice(1) });
    this.#record(request, { protocol: found.definition.protocol, path: outcome.path });
    if (outcome.exitStatus === 0 && found.definition.protocol === 'SSH') {
      this.#o.events.sshCommandCompleted?.({
        user: request.user,
        connectionId: request.connectionId,
        command: found.name,
        virtualPath: outcome.path ?? '',
      });
    }
    return outcome.exitStatus;
  }

  /**
   * The protocol a command line runs under, for what the connection reports before the
   * command starts: SCP for scp, SSH for every other command and for what will be refused.
   */
  protocolOf(commandLine: string): Protocol {
    try {
      return this.#lookup(parseShellWords(commandLine)[0]?.value ?? '').definition.protocol;
    } catch {
      return 'SSH';
    }
  }

  #lookup(name: string): { name: SshCommandName; definition: CommandDefinition } {
    if (name === '') throw new Refusal('no command given');
    const definition = Object.hasOwn(this.#table, name)
      ? this.#table[name as SshCommandName]
      : undefined;
    if (definition === undefined || !this.#o.enabled.has(name as SshCommandName)) {
      throw new Refusal(`${name}: command not found or not enabled on this server`);
    }
    return { name: name as SshCommandName, definition };
  }

  async #refuse(request: ExecRequest, err: unknown): Promise<number> {
    const reason = err instanceof Error ? err.message : String(err);
    request.log.info({ ssh_command: request.commandLine, reason }, 'ssh command refused');
    this.#record(request, { protocol: 'SSH', path: undefined });
    await writeErr(request.io, `kubesftp: ${reason}\n`).catch(() => undefined);
    return 1;
  }

  async #execute(
    request: ExecRequest,
    command: { name: SshCommandName; definition: CommandDefinition; args: ShellWord[] },
  ): Promise<CommandOutcome> {
    const ref: SessionRef = {
      connectionId: request.connectionId,
      protocol: command.definition.protocol,
      touch: () => request.touch(),
      bandwidth: request.bandwidth,
    };
    let opened: Promise<Vfs> | undefined;
    const run: CommandRun = {
      name: command.name,
      args: command.args,
      io: request.io,
      cwd: START_DIR,
      fs: () => (opened ??= this.#o.openFs(request.user, ref)),
      admitSystem: (access) => this.#o.systemPolicy(request.user, ref).admit(access),
      signal: request.signal,
      touch: () => request.touch(),
      log: request.log,
    };
    try {
      return await command.definition.run(run);
    } catch (err) {
      if (request.signal.aborted) {
        request.log.info(
          { ssh_command: request.commandLine },
          'ssh command ended: the client left',
        );
        return { exitStatus: 1 };
      }
      request.log.warn({ err, ssh_command: request.commandLine }, 'ssh command failed');
      const message = `${command.name}: ${errorText(err)}\n`;
      await writeErr(request.io, message).catch(() => undefined);
      return { exitStatus: 1 };
    } finally {
      const vfs = await opened?.catch(() => undefined);
      await vfs?.close();
    }
  }

  #record(request: ExecRequest, command: { protocol: Protocol; path: string | undefined }): void {
    this.#o.events.command({
      sender: 'SSHCommand',
      username: request.user.username,
      connection_id: request.connectionId,
      protocol: command.protocol,
      file_path: command.path,
      ssh_command: request.commandLine,
    });
  }
}
