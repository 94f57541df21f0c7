/**
 * Our own scp, the remote end of OpenSSH's legacy SCP protocol (`scp -O`, WinSCP's SCP mode,
 * scripts and appliances): no system binary, every file through the session's policy layer,
 * so it works on any backend the Vfs has.
 */
import { writeErr } from '../io.js';
import type { CommandDefinition } from '../types.js';
import { isKubesftpError } from '../../errors.js';
import { parseScpOptions, type ScpOptions } from './options.js';
import { runSink } from './sink.js';
import { runSource } from './source.js';

export const SCP_COMMAND: CommandDefinition = {
  protocol: 'SCP',
  run: async (run) => {
    let options: ScpOptions;
    try {
      options = parseScpOptions(run.args);
    } catch (err) {
      if (!isKubesftpError(err, 'INVALID_ARGUMENT')) throw err;
      await writeErr(run.io, `scp: ${err.message}\n`);
      return { exitStatus: 1 };
    }
    return options.direction === 'sink' ? runSink(run, options) : runSource(run, options);
  },
};
