/**
 * The growth factor is set at run time, which V8 documents as unsupported: this checks in a
 * process of its own that it still takes effect (a Node upgrade that ignores it shows here,
 * before it shows as idle memory in the benchmark).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

const PROBE = `
const { holdYoungGeneration } = await import(${JSON.stringify(new URL('./startup-heap.js', import.meta.url).href)});
const v8 = await import('node:v8');
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
// Objects that stay reachable: every scavenge sees them survive, which is what makes V8 grow.
const fill = (n) => { const keep = []; for (let i = 0; i < n; i++) keep.push({ i, s: 'x' + i }); return keep; };
const heap = holdYoungGeneration();
const first = fill(400000);
const held = newSpace();
heap.release();
heap.release();
const second = fill(400000);
console.log(JSON.stringify({ held, grown: newSpace(), kept: first.length + second.length }));
`;

describe('holdYoungGeneration', () => {
  it('keeps the young generation small while held and lets it grow once released', () => {
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', PROBE], {
      encoding: 'utf8',
    });
    const { held, grown, kept } = JSON.parse(output) as {
      held: number;
      grown: number;
      kept: number;
    };
    assert.equal(kept, 800_000);
    assert.ok(held <= 4 * 1024 * 1024, `new space grew to ${held} bytes while held`);
    assert.ok(grown >= 4 * held, `new space did not grow after release: ${held} -> ${grown}`);
  });
});
