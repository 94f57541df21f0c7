/**
 * The system commands' names and protocol, apart from their code in system/: the dispatcher
 * lists them from here and loads the child-process code only when one runs.
 */
import type { Protocol } from '../session/types.js';

export const SYSTEM_COMMAND_PROTOCOLS = {
  rsync: 'SSH',
  'git-upload-pack': 'SSH',
  'git-receive-pack': 'SSH',
  'git-upload-archive': 'SSH',
} as const satisfies Record<string, Protocol>;

export type SystemCommandName = keyof typeof SYSTEM_COMMAND_PROTOCOLS;
