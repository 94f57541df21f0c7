/** Runs exec requests in-process over plain streams, for the command tests. */
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import type { User } from '../dataprovider/types.js';
import { PolicyVfs } from '../session/policy-vfs.js';
import { setup, type PolicySetup } from '../session/test-support.js';
import type { SshCommandEvent } from '../session/types.js';
import type { SshCommandName } from '../config/effective.js';
import { CommandService } from './dispatcher.js';

export interface Executed {
  status: number;
  stdout: Buffer;
  stderr: string;
}

export interface CommandSetup extends PolicySetup {
  completed: SshCommandEvent[];
  service: CommandService;
  exec: (commandLine: string, stdin?: Buffer | Buffer[]) => Promise<Executed>;
}

function collect(stream: PassThrough): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // A copy, as the SSH channel makes into its packets: a command may reuse what it wrote once
  // the write has called back (scp downloads read into pool blocks).
  stream.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
  return new Promise((resolve) => stream.on('end', () => resolve(Buffer.concat(chunks))));
}

/** A command service over a policy layer on a memory backend (see session/test-support). */
export function commandSetup(options: {
  enabled: SshCommandName[];
  user?: Partial<User>;
}): CommandSetup {
  const policy = setup(options.user);
  const completed: SshCommandEvent[] = [];
  const service = new CommandService({
    enabled: new Set(options.enabled),
    events: {
      transfer: (record) => policy.transfers.push(record),
      command: (record) => policy.commands.push(record),
      sshCommandCompleted: (event) => completed.push(event),
    },
    // A memory backend's close keeps its tree, so every request may close its own layer.
    openFs: (_user, session) =>
      Promise.resolve(new PolicyVfs(policy.backend, { ...policy.ctx, protocol: session.protocol })),
    systemPolicy: () => ({ admit: () => Promise.reject(new Error('no system commands here')) }),
  });
  const exec = async (commandLine: string, stdin: Buffer | Buffer[] = []): Promise<Executed> => {
    const input = new PassThrough();
    const output = new PassThrough();
    const errors = new PassThrough();
    const out = collect(output);
    const err = collect(errors);
    for (const chunk of Array.isArray(stdin) ? stdin : [stdin]) input.write(chunk);
    input.end();
    const status = await service.run({
      commandLine,
      io: { input, output, errors },
      user: { username: 'alice' } as User,
      connectionId: 'c1',
      touch: () => undefined,
      log: pino({ level: 'silent' }),
      signal: new AbortController().signal,
    });
    output.end();
    errors.end();
    return { status, stdout: await out, stderr: (await err).toString() };
  };
  return { ...policy, completed, service, exec };
}
