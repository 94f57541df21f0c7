import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryOf, median, processTree, sampleRss, summarizeRss, totalRssKiB } from './rss.js';

describe('server memory from /proc', () => {
  test('finds a child and a grandchild, and leaves out the root when asked', async (t) => {
    // sh starts a background sleep (a grandchild of this process) and then waits on it.
    const shell = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore' });
    t.after(() => shell.kill('SIGKILL'));
    let tree: number[] = [];
    for (let attempt = 0; attempt < 50 && tree.length < 2; attempt++) {
      await sleep(20);
      tree = await processTree(shell.pid!, true);
    }
    assert.equal(tree.length, 2, `tree of ${shell.pid}: ${tree.join(',')}`);
    assert.ok(tree.includes(shell.pid!));
    const withoutRoot = await processTree(shell.pid!, false);
    assert.equal(withoutRoot.length, 1);
    assert.notEqual(withoutRoot[0], shell.pid);
    for (const pid of tree) process.kill(pid, 'SIGKILL');
  });

  test('reads this process resident memory, and nothing for a pid that has gone', async () => {
    const own = await memoryOf(process.pid);
    assert.ok(own !== undefined && own.rssKiB > 1024, JSON.stringify(own));
    assert.ok(own.hwmKiB >= own.rssKiB);
    const gone = spawn('true');
    await new Promise((done) => gone.once('exit', done));
    assert.equal(await memoryOf(gone.pid!), undefined);
    assert.equal(await totalRssKiB([gone.pid!]), 0);
  });

  test('sampling sees memory that grows while it runs', async () => {
    const sampler = sampleRss(() => Promise.resolve([process.pid]), 10);
    await sleep(50);
    const ballast = Buffer.alloc(64 * 1024 * 1024, 1);
    await sleep(80);
    const samples = await sampler.stop();
    assert.ok(ballast.length > 0);
    assert.ok(samples.length >= 3, `${samples.length} samples`);
    const summary = summarizeRss(samples);
    assert.ok(summary.peakMiB - Math.min(...samples) / 1024 >= 48, JSON.stringify(summary));
  });

  test('summaries drop empty samples; median of even and odd counts', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.deepEqual(summarizeRss([0, 2048, 1024, 0, 3072]), {
      peakMiB: 3,
      steadyMiB: 2,
      samples: 3,
    });
    assert.equal(summarizeRss([0]).samples, 0);
  });
});
