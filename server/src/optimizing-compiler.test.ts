/**
 * The compiler is switched at run time, which V8 documents as unsupported: this checks in a
 * process of its own that a hot function stays unoptimized while deferred and is optimized once
 * switched back (a Node upgrade that ignores either switch shows here first).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

const PROBE = `
const { deferOptimizingCompiler, optimizeFromNow } = await import(${JSON.stringify(new URL('./optimizing-compiler.js', import.meta.url).href)});
// Bit 4 (16) of %GetOptimizationStatus: the function runs TurboFan code.
const TURBOFANNED = 16;
const hot = (n) => { let s = 0; for (let i = 0; i < n; i++) s = (s + Math.imul(i, 2654435761)) | 0; return s; };
const heat = () => { for (let k = 0; k < 400; k++) hot(20000); };
deferOptimizingCompiler();
heat();
const whileDeferred = %GetOptimizationStatus(hot);
optimizeFromNow();
optimizeFromNow();
heat();
const afterwards = %GetOptimizationStatus(hot);
console.log(JSON.stringify({ whileDeferred: (whileDeferred & TURBOFANNED) !== 0, afterwards: (afterwards & TURBOFANNED) !== 0 }));
`;

describe('deferOptimizingCompiler', () => {
  it('leaves hot code unoptimized until optimizeFromNow, then optimizes it', () => {
    const output = execFileSync(
      process.execPath,
      ['--allow-natives-syntax', '--input-type=module', '-e', PROBE],
      { encoding: 'utf8' },
    );
    assert.deepEqual(JSON.parse(output), { whileDeferred: false, afterwards: true });
  });
});
