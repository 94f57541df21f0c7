/**
 * Writes docs/config.md from the schema; with `--check`, exits 1 when the file is stale.
 * Run after a build: `node dist/server/src/config/gen-docs.js [--check]`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { CONFIG_DOCS_PATH, renderConfigDocs } from './docs.js';

/** dist/server/src/config/gen-docs.js -> repository root. */
const ROOT_URL = new URL('../../../../', import.meta.url);

async function main(check: boolean): Promise<number> {
  const target = new URL(CONFIG_DOCS_PATH, ROOT_URL);
  const wanted = renderConfigDocs();
  if (!check) {
    await writeFile(target, wanted);
    process.stdout.write(`wrote ${CONFIG_DOCS_PATH}\n`);
    return 0;
  }
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current === wanted) return 0;
  process.stderr.write(
    `${CONFIG_DOCS_PATH} is stale: run node dist/server/src/config/gen-docs.js\n`,
  );
  return 1;
}

process.exitCode = await main(process.argv.includes('--check'));
