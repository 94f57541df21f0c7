import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from './node-flags.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const read = (path: string): Promise<string> => readFile(join(repoRoot, path), 'utf8');

test('every way of starting kubesftp passes the same V8 flags', async () => {
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(await read('Containerfile'));
  assert.ok(entrypoint, 'the Containerfile has an exec-form ENTRYPOINT');
  const argv = JSON.parse(entrypoint[1]!) as string[];
  const script = argv.indexOf('/app/dist/server/src/cli/main.js');
  assert.deepEqual(argv.slice(1, script), [...NODE_FLAGS], 'the image starts node with them');

  const run = /^\tnode (.*) dist\/server\/src\/cli\/main\.js serve/m.exec(await read('Makefile'));
  assert.ok(run, '`make run` starts node on the CLI');
  assert.deepEqual(run[1]!.split(' '), [...NODE_FLAGS], '`make run` passes them');

  const shebang = (await read('server/src/cli/main.ts')).split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
});
