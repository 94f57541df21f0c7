import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMsOfStat, processCpuMs, treeCpuMs } from './cpu.js';

/** A node child that uses `ms` of CPU time (not wall time: CI may share the cores), then exits. */
const burn = (ms: number): string =>
  `${process.execPath} -e "const s = process.cpuUsage(); while (process.cpuUsage(s).user < ${ms * 1000});"`;

describe('server CPU time from /proc', () => {
  test('adds utime, stime, cutime and cstime, after a command name holding spaces and ")"', () => {
    // Fields 3 to 17 after the name; 14 to 17 are 120 + 30 + 7 + 3 ticks.
    const stat = '4242 (a) (b c) S 1 4242 4242 0 -1 4194560 900 0 0 0 120 30 7 3 20 0 1 0 5 0';
    assert.equal(cpuMsOfStat(stat), 1600);
  });

  test('counts a grandchild that has exited, through the parent that reaped it', async (t) => {
    const shell = spawn('sh', ['-c', `${burn(400)}; sleep 30`], { stdio: 'ignore' });
    t.after(() => shell.kill('SIGKILL'));
    const before = await treeCpuMs(shell.pid!);
    // The burner runs, exits and is reaped by sh, which then sleeps.
    let after = before;
    for (let attempt = 0; attempt < 200 && after - before < 400; attempt++) {
      await sleep(50);
      after = await treeCpuMs(shell.pid!);
    }
    assert.ok(after - before >= 400, `tree CPU went from ${before} to ${after} ms`);
    assert.ok(after - before < 2000, `tree CPU went from ${before} to ${after} ms`);
  });

  test('reads 0 for a pid that has gone', async () => {
    const gone = spawn('true');
    await new Promise((done) => gone.once('exit', done));
    assert.equal(await processCpuMs(gone.pid!), 0);
  });
});
