/** Regenerates docs/openapi.json from the route schemas: `node dist/server/src/httpd/write-openapi.js`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  OPENAPI_DOC_PATH,
  buildOpenApiDocument,
  findRepositoryRoot,
  renderOpenApiDocument,
} from './openapi-document.js';

const target = path.join(findRepositoryRoot(), OPENAPI_DOC_PATH);
mkdirSync(path.dirname(target), { recursive: true });
writeFileSync(target, await renderOpenApiDocument(await buildOpenApiDocument()));
process.stdout.write(`wrote ${target}\n`);
