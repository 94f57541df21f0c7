/** Client-side files for the benchmark's own tests: a key, one large file and small files. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeKeyPair } from '../integration/harness.js';
import { writeRandomFile, writeSmallFiles } from './files.js';
import { bigFileName, smallDirName, type BenchData } from './scenarios.js';

/** Writes the files under `work`/client and an ed25519 key pair in `work`. */
export async function writeTestData(
  work: string,
  sizes: { bigBytes: number; smallCount: number },
): Promise<{ data: BenchData; publicKey: string }> {
  const clientDir = join(work, 'client');
  await mkdir(clientDir);
  const key = await makeKeyPair(work, 'ed25519');
  const data: BenchData = {
    keyPath: key.privatePath,
    clientDir,
    bigBytes: sizes.bigBytes,
    bigSha256: await writeRandomFile(join(clientDir, bigFileName), sizes.bigBytes),
    smallCount: sizes.smallCount,
    smallDigest: await writeSmallFiles({
      dir: join(clientDir, smallDirName),
      count: sizes.smallCount,
      size: 4096,
    }),
    bigTimeoutMs: 60_000,
  };
  return { data, publicKey: key.publicKey };
}
