/**
 * Writes the CRDs to crds/ and to the chart's crds/ (helm installs those before anything
 * else). Run by `make gen`; crd/crds.test.ts fails when the files differ from this output.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { allCrds } from './crds.js';

const HEADER =
  '# Generated from operator/src/api/ by operator/src/crd/write-crds.ts (make gen); do not edit.\n';

/** Where the files go, relative to the repository root. */
export const CRD_DIRECTORIES = ['crds', 'charts/kubesftp/crds'] as const;

export interface CrdFile {
  name: string;
  contents: string;
}

/** The files as they should be: one per CRD, named after it. */
export function renderCrdFiles(): CrdFile[] {
  return allCrds().map((crd) => {
    const name = (crd['metadata'] as { name: string }).name;
    return { name: `${name}.yaml`, contents: HEADER + stringify(crd, { lineWidth: 0 }) };
  });
}

/** The repository root, from dist/operator/src/crd or operator/src/crd. */
export function repositoryRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${join('dist', 'operator')}`) ? '../../../..' : '../../..';
  return join(here, up);
}

async function main(): Promise<void> {
  const root = repositoryRoot();
  for (const dir of CRD_DIRECTORIES) {
    await mkdir(join(root, dir), { recursive: true });
    for (const file of renderCrdFiles()) {
      await writeFile(join(root, dir, file.name), file.contents);
      process.stdout.write(`wrote ${join(dir, file.name)}\n`);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
