import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  OPENAPI_DOC_PATH,
  buildOpenApiDocument,
  readCheckedInDocument,
  renderOpenApiDocument,
} from './openapi-document.js';

interface OpenApiDoc {
  paths: Record<
    string,
    Record<string, { security?: object[]; responses: Record<string, unknown> }>
  >;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
}

describe('OpenAPI document', () => {
  it('matches the checked-in docs/openapi.json (regenerate with node dist/server/src/httpd/write-openapi.js)', async () => {
    const generated = await renderOpenApiDocument(await buildOpenApiDocument());
    const checkedIn = readCheckedInDocument();
    assert.ok(checkedIn !== undefined, `${OPENAPI_DOC_PATH} is missing`);
    assert.equal(checkedIn, generated, `${OPENAPI_DOC_PATH} is stale`);
  });

  it('describes every admin route with a bearer requirement and no password in replies', async () => {
    const doc = (await buildOpenApiDocument()) as OpenApiDoc;
    const expected = [
      'get /api/v1/user',
      'post /api/v1/user',
      'get /api/v1/user/{id}',
      'put /api/v1/user/{id}',
      'delete /api/v1/user/{id}',
      'get /api/v1/connection',
      'delete /api/v1/connection/{id}',
      'get /api/v1/defender/hosts',
      'delete /api/v1/defender/hosts/{ip}',
      'get /api/v1/admins',
      'post /api/v1/admins',
      'get /api/v1/admins/{username}',
      'put /api/v1/admins/{username}',
      'delete /api/v1/admins/{username}',
      'put /api/v1/admin/changepwd',
    ];
    for (const route of expected) {
      const [method, url] = route.split(' ') as [string, string];
      const operation = doc.paths[url]?.[method];
      assert.ok(operation, `${route} is documented`);
      assert.deepEqual(operation.security, [{ BearerAuth: [] }], route);
    }
    assert.ok(doc.paths['/api/v1/token']?.get, 'token route is documented');
    assert.ok(doc.paths['/healthz']?.get && doc.paths['/metrics']?.get);
    const user = doc.components.schemas.User?.properties ?? {};
    assert.ok('username' in user && !('password' in user));
    assert.ok('password' in (doc.components.schemas.UserInput?.properties ?? {}));
    const admin = doc.components.schemas.Admin?.properties ?? {};
    assert.ok('username' in admin && !('password' in admin));
  });
});
