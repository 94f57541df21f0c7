import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ErrorCode, KubesftpError } from '../errors.js';
import { createDataProvider } from '../dataprovider/index.js';
import { buildApp } from './server.js';

/** Where the checked-in copy of the document lives, relative to the repository root. */
export const OPENAPI_DOC_PATH = path.join('docs', 'openapi.json');

/** The OpenAPI 3 document, generated from the route schemas of a server that never listens. */
export async function buildOpenApiDocument(): Promise<unknown> {
  const provider = await createDataProvider({ driver: 'memory', name: 'openapi', configDir: '.' });
  const app = await buildApp({
    provider,
    logger: pino({ level: 'silent' }),
    config: { bind_port: 0, bind_address: '127.0.0.1' },
    version: 'document',
  });
  try {
    return app.swagger();
  } finally {
    await app.close();
    await provider.close();
  }
}

/**
 * The text written to docs/openapi.json, formatted the way the project's Prettier check wants it.
 * Prettier is a development dependency, so it is loaded only when the file is (re)written.
 */
export async function renderOpenApiDocument(
  document: unknown,
  root: string = findRepositoryRoot(),
): Promise<string> {
  const prettier = await import('prettier');
  const file = path.join(root, OPENAPI_DOC_PATH);
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(JSON.stringify(document), { ...options, filepath: file });
}

function isProjectRoot(dir: string): boolean {
  const manifest = path.join(dir, 'package.json');
  if (!existsSync(manifest)) return false;
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'kubesftp';
}

/** Walks up from this module to the directory holding the project's package.json (also from dist/). */
export function findRepositoryRoot(
  start: string = path.dirname(fileURLToPath(import.meta.url)),
): string {
  let dir = start;
  while (!isProjectRoot(dir)) {
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new KubesftpError(ErrorCode.NOT_FOUND, `no kubesftp package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

export function readCheckedInDocument(root: string = findRepositoryRoot()): string | undefined {
  const file = path.join(root, OPENAPI_DOC_PATH);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}
