import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CRD_DIRECTORIES, renderCrdFiles, repositoryRoot } from './write-crds.js';
import { allCrds, sftpUserCrd } from './crds.js';
import { SchemaError, toStructural } from './structural.js';

type Schema = Record<string, unknown>;

/** Every node of a schema with its path, depth first. */
function* nodes(schema: Schema, path: string): Generator<[string, Schema]> {
  yield [path, schema];
  const properties = (schema['properties'] ?? {}) as Record<string, Schema>;
  for (const [name, child] of Object.entries(properties)) yield* nodes(child, `${path}.${name}`);
  if (schema['items'] !== undefined) yield* nodes(schema['items'] as Schema, `${path}[]`);
  const additional = schema['additionalProperties'];
  if (typeof additional === 'object') yield* nodes(additional as Schema, `${path}{}`);
}

function version(crd: Schema): Schema {
  const versions = (crd['spec'] as { versions: Schema[] }).versions;
  assert.equal(versions.length, 1);
  return versions[0]!;
}

function openApi(crd: Schema): Schema {
  return (version(crd)['schema'] as { openAPIV3Schema: Schema }).openAPIV3Schema;
}

void describe('CRDs', () => {
  void it('are checked in as generated, in crds/ and in the chart (run make gen when this fails)', async () => {
    const root = repositoryRoot();
    for (const dir of CRD_DIRECTORIES) {
      for (const file of renderCrdFiles()) {
        const path = join(dir, file.name);
        const onDisk = await readFile(join(root, path), 'utf8').catch(() => '(missing)');
        assert.ok(onDisk === file.contents, `${path} is stale: run make gen and commit it`);
      }
    }
  });

  void it('describe every field for kubectl explain, below spec and status', () => {
    for (const crd of allCrds()) {
      const properties = openApi(crd)['properties'] as Record<string, Schema>;
      const fields = ['spec', 'status'].flatMap((part) => [...nodes(properties[part]!, part)]);
      // Items and map values are explained by their field.
      const explained = fields.filter(([path]) => !path.endsWith('[]') && !path.endsWith('{}'));
      for (const [path, node] of explained) {
        assert.equal(typeof node['description'], 'string', `${path} has no description`);
        assert.notEqual(node['description'], '', `${path} has an empty description`);
      }
    }
  });

  void it('are structural: every node has a type unless it preserves unknown fields or is int-or-string', () => {
    for (const crd of allCrds()) {
      for (const [path, node] of nodes(openApi(crd), '')) {
        const typed =
          typeof node['type'] === 'string' ||
          node['x-kubernetes-int-or-string'] === true ||
          node['x-kubernetes-preserve-unknown-fields'] === true;
        assert.ok(typed, `${path || '(root)'} has no type`);
        assert.equal(
          node['additionalProperties'] === false,
          false,
          `${path}: additionalProperties false`,
        );
      }
    }
  });

  void it('have a status subresource, short names, printer columns and CEL rules', () => {
    for (const crd of allCrds()) {
      const spec = crd['spec'] as { names: { shortNames: string[]; categories: string[] } };
      assert.ok(spec.names.shortNames.length > 0);
      assert.deepEqual(spec.names.categories, ['kubesftp']);
      assert.deepEqual(version(crd)['subresources'], { status: {} });
      const columns = version(crd)['additionalPrinterColumns'] as Array<{ name: string }>;
      assert.ok(columns.some((column) => column.name === 'Ready'));
      const rules = [...nodes(openApi(crd), '')].flatMap(
        ([, node]) => (node['x-kubernetes-validations'] as Array<{ message?: string }>) ?? [],
      );
      assert.ok(rules.length > 0);
      for (const rule of rules) assert.ok(rule.message, 'every CEL rule has a readable message');
    }
  });

  void it('keep serverRef and the username immutable', () => {
    const root = openApi(sftpUserCrd());
    const spec = (root['properties'] as Record<string, Schema>)['spec']!;
    const serverRef = (spec['properties'] as Record<string, Schema>)['serverRef']!;
    assert.match(JSON.stringify(serverRef['x-kubernetes-validations']), /self == oldSelf/);
    assert.match(JSON.stringify(root['x-kubernetes-validations']), /oldSelf\.metadata\.name/);
  });

  void it('refuse a schema the API server would not take', () => {
    assert.throws(
      () => toStructural({ type: 'object', properties: { a: { type: 'string' } } }, 'spec'),
      (err: unknown) =>
        err instanceof SchemaError && /spec\.a: a property needs a description/.test(err.message),
    );
    assert.throws(
      () => toStructural({ type: 'string', pattern: '^(?!x)', description: 'd' }, 'spec.p'),
      /look-around/,
    );
    assert.throws(
      () => toStructural({ type: 'string', description: 'd', oneOf: [] }, 'spec.q'),
      /oneOf/,
    );
  });
});
