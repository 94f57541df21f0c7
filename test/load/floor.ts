/**
 * Starts floor-server.ts for the benchmark in kubesftp's place (BENCH_FLOOR): the same client
 * runs against kubesftp's transport and engine alone, so a figure can be split into what they
 * cost and what the server adds on top of them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { NODE_FLAGS } from '../../server/src/cli/node-flags.js';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { generateKeyPair } from '../../server/src/ssh/ssh2-server-parts.js';
import { spawnTracked, stopChild } from './children.js';
import type { BenchServer } from './client.js';
import { processTree } from './rss.js';

/** Where the floor keeps files: a directory through the local backend, or memory. */
export type FloorBackend = 'local' | 'memory';

const serverPath = fileURLToPath(new URL('./floor-server.js', import.meta.url));
/** How long the floor has to print its port, or to acknowledge an emptied home. */
const answerTimeoutMs = 30_000;

function hostKey(): Promise<string> {
  return new Promise((done, fail) =>
    generateKeyPair('ed25519', (err, pair) => (err ? fail(err) : done(pair.private))),
  );
}

export async function startFloor(options: {
  workDir: string;
  publicKey: string;
  backend: FloorBackend;
}): Promise<BenchServer> {
  const dir = resolve(options.workDir, `floor-${options.backend}`);
  const homeDir = join(dir, 'home');
  await mkdir(homeDir, { recursive: true });
  const hostKeyPath = join(dir, 'host_key');
  await writeFile(hostKeyPath, await hostKey(), { mode: 0o600 });
  const child = spawnTracked({
    command: process.execPath,
    args: [...NODE_FLAGS, serverPath],
    env: {
      ...process.env,
      FLOOR_PUBLIC_KEY: options.publicKey,
      FLOOR_HOST_KEY: hostKeyPath,
      FLOOR_ROOT: options.backend === 'local' ? homeDir : '',
    },
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  /** The floor's next line on stdout, as JSON; fails if it exits or stays silent. */
  const nextRecord = async (what: string): Promise<Record<string, unknown>> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const [line] = (await Promise.race([
        once(lines, 'line'),
        once(child, 'exit').then(() => [undefined]),
        new Promise((resolve) => (timer = setTimeout(() => resolve([undefined]), answerTimeoutMs))),
      ])) as [string | undefined];
      if (line === undefined) {
        throw new KubesftpError(
          ErrorCode.FAILURE,
          `the floor server did not answer ${what}: ${stderr.join('').trim() || 'no output'}`,
        );
      }
      return JSON.parse(line) as Record<string, unknown>;
    } finally {
      clearTimeout(timer);
    }
  };
  const stop = async (): Promise<void> => {
    lines.close();
    await stopChild(child);
  };
  try {
    const { port } = (await nextRecord('with its port')) as { port: number };
    const pid = child.pid!;
    const inMemory = options.backend === 'memory';
    return {
      name: `floor-${options.backend}`,
      port,
      username: 'bench',
      homeDir,
      remoteDir: '',
      mainPid: pid,
      ...(inMemory && {
        clearHome: async () => {
          child.kill('SIGUSR2');
          await nextRecord('that its home was emptied');
        },
      }),
      servingPids: () => processTree(pid, true),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
