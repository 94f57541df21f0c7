/** The contract between the exec dispatcher and each command it runs. */
import type { Logger } from 'pino';
import type { SshCommandName } from '../config/effective.js';
import type { SystemAccess, SystemCommandGrant } from '../session/system-commands.js';
import type { Protocol } from '../session/types.js';
import type { Vfs } from '../vfs/types.js';
import type { CommandIo } from './io.js';
import type { ShellWord } from './shell-words.js';

/** What one running command gets. */
export interface CommandRun {
  name: SshCommandName;
  /** The words after the command's name. */
  args: ShellWord[];
  io: CommandIo;
  /** The virtual directory relative paths start from: the home, for every exec request. */
  cwd: string;
  /** The session's policy layer, opened on first use under the command's protocol. */
  fs(): Promise<Vfs>;
  /** Asks the policy layer to let a system binary act on the home. */
  admitSystem(access: SystemAccess): Promise<SystemCommandGrant>;
  /** Aborted when the client disconnects or the server shuts down. */
  signal: AbortSignal;
  /** Marks the connection active, for what moves bytes without the Vfs (system binaries). */
  touch(): void;
  log: Logger;
}

export interface CommandOutcome {
  exitStatus: number;
  /** The virtual path the command acted on, for the command log and the ssh_cmd action. */
  path?: string;
}

export interface CommandDefinition {
  /** The protocol its file operations and log records carry: SCP for scp, SSH otherwise. */
  protocol: Protocol;
  run(run: CommandRun): Promise<CommandOutcome>;
}
