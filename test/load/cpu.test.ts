import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { processCpuMs, treeCpuMs } from './cpu.js';

/** A node child that keeps the CPU busy for `ms`, then exits. */
const burn = (ms: number): string =>
  `${process.execPath} -e "const end = Date.now() + ${ms}; while (Date.now() < end);"`;

describe('server CPU time from /proc', () => {
  test('counts a grandchild that has exited, through the parent that reaped it', async (t) => {
    const shell = spawn('sh', ['-c', `${burn(400)}; sleep 30`], { stdio: 'ignore' });
    t.after(() => shell.kill('SIGKILL'));
    const before = await treeCpuMs(shell.pid!);
    // The burner runs, exits and is reaped by sh, which then sleeps.
    let after = before;
    for (let attempt = 0; attempt < 100 && after - before < 300; attempt++) {
      await sleep(50);
      after = await treeCpuMs(shell.pid!);
    }
    assert.ok(after - before >= 300, `tree CPU went from ${before} to ${after} ms`);
    assert.ok(after - before < 5000, `tree CPU went from ${before} to ${after} ms`);
  });

  test('reads this process, and 0 for a pid that has gone', async () => {
    const end = Date.now() + 50;
    while (Date.now() < end);
    assert.ok((await processCpuMs(process.pid)) >= 40);
    const gone = spawn('true');
    await new Promise((done) => gone.once('exit', done));
    assert.equal(await processCpuMs(gone.pid!), 0);
  });
});
