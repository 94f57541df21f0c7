import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HandleTable, randomHandleId } from './handles.js';
import type { VfsDir } from '../vfs/types.js';

describe('handle ids', () => {
  it('are 16 hex digits, never repeated across many refills of the random bytes', () => {
    const seen = new Set<string>();
    for (let index = 0; index < 5000; index++) {
      const id = randomHandleId();
      assert.match(id, /^[0-9a-f]{16}$/);
      assert.ok(!seen.has(id), `id ${id} repeated`);
      seen.add(id);
    }
  });

  it('name distinct open handles of one table, each found again by its id', () => {
    const table = new HandleTable(2000);
    const ids = new Map<string, string>();
    for (let index = 0; index < 2000; index++) {
      const path = `/d${index}`;
      const id = table.add({
        kind: 'dir',
        dir: {} as VfsDir,
        path,
        dotsSent: false,
        exhausted: false,
        carried: [],
      });
      ids.set(id, path);
    }
    assert.equal(ids.size, 2000);
    for (const [id, path] of ids) assert.equal(table.dir(id).path, path);
  });
});
