import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { PRECOMPILED_MODULES } from './precompiled.js';

/** dist/server/src/config/precompiled.test.js -> repository root. */
const ROOT_URL = new URL('../../../../', import.meta.url);

for (const module of PRECOMPILED_MODULES) {
  test(`${module.path} is what its schemas give (make gen writes it)`, async () => {
    const current = await readFile(new URL(module.path, ROOT_URL), 'utf8');
    assert.ok(current === module.render(), `${module.path} is stale: run make gen`);
  });
}
