/**
 * Writes the precompiled validator modules (see precompiled.ts); `make gen` runs it. They are
 * sources, so a build after this one compiles what it wrote.
 */
import { writeFile } from 'node:fs/promises';
import { PRECOMPILED_MODULES } from './precompiled.js';

/** dist/server/src/config/write-precompiled.js -> repository root. */
const ROOT_URL = new URL('../../../../', import.meta.url);

for (const module of PRECOMPILED_MODULES) {
  await writeFile(new URL(module.path, ROOT_URL), module.render());
  process.stdout.write(`wrote ${module.path}\n`);
}
