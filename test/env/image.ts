/**
 * The kubesftp image for pods on the test bed node, built offline by scripts/build-image.sh
 * from the built dist/ (run `make build` first) and reused while its inputs are unchanged.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { repoRoot } from './binaries.js';

const run = promisify(execFile);

export interface ImageTarball {
  /** The image's name as pods refer to it (with imagePullPolicy: Never). */
  name: string;
  /** The image tarball that KubernetesNode.importImage takes. */
  tarball: string;
}

export async function buildKubesftpImage(): Promise<ImageTarball> {
  const script = join(repoRoot(), 'scripts', 'build-image.sh');
  let stdout: string;
  try {
    ({ stdout } = await run('bash', [script], { maxBuffer: 16 << 20, timeout: 300_000 }));
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || String(err);
    throw new KubesftpError(ErrorCode.FAILURE, `scripts/build-image.sh failed: ${detail}`, {
      cause: err,
    });
  }
  const field = (key: string): string => {
    const value = new RegExp(`^${key}=(.+)$`, 'm').exec(stdout)?.[1];
    if (value === undefined) {
      throw new KubesftpError(ErrorCode.FAILURE, `scripts/build-image.sh printed no ${key}=`);
    }
    return value;
  };
  return { name: field('name'), tarball: field('tarball') };
}
