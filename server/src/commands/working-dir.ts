/**
 * `cd` and `pwd`, for clients that ask for their starting directory with commands instead of
 * SFTP's REALPATH. Every exec request starts in the home and nothing carries over from one to
 * the next (each is its own channel, as each is its own shell with OpenSSH), so `cd` succeeds
 * without changing anything and `pwd` prints the virtual working directory: "/".
 */
import { writeOut } from './io.js';
import type { CommandDefinition } from './types.js';

export const WORKING_DIR_COMMANDS = {
  cd: { protocol: 'SSH', run: () => Promise.resolve({ exitStatus: 0 }) },
  pwd: {
    protocol: 'SSH',
    run: async (run) => {
      await writeOut(run.io, `${run.cwd}\n`);
      return { exitStatus: 0, path: run.cwd };
    },
  },
} as const satisfies Record<string, CommandDefinition>;
