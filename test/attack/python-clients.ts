/**
 * The Python that runs the tests' third-party clients (paramiko): the venv
 * test/setup/install-system-deps.sh made, named after the requirements file's hash. Without it
 * a test fails with the command that installs it, never skips.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { testbedCacheDir } from '../env/binaries.js';
import { repoRoot } from '../integration/harness.js';

const REQUIREMENTS = join(repoRoot, 'test/setup/python-requirements.txt');

export async function clientsPython(): Promise<string> {
  const hash = createHash('sha256')
    .update(await readFile(REQUIREMENTS))
    .digest('hex')
    .slice(0, 12);
  const python = join(testbedCacheDir(), `python-clients-${hash}`, 'bin', 'python');
  try {
    await access(python);
  } catch {
    assert.fail(
      `paramiko is not installed (${python} is missing): run \`make system-deps\` ` +
        '(bash test/setup/install-system-deps.sh) first',
    );
  }
  return python;
}
