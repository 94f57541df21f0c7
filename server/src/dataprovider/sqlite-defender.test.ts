/**
 * Defender records on one SQLite file changed by two connections at the same time, from two
 * threads: no change may be lost. This file is also the worker's script.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SqliteProvider } from './sqlite.js';

const UPDATES_PER_WORKER = 300;

/** Appends one event per update to the same record, as fast as it can. */
async function appendEvents(path: string, tag: number): Promise<void> {
  const provider = new SqliteProvider({ path, usersTable: 'users' });
  for (let i = 0; i < UPDATES_PER_WORKER; i++) {
    await provider.updateDefenderHost('192.0.2.1', (current) => ({
      ip: '192.0.2.1',
      events: [...(current?.events ?? []), { at: tag * 100_000 + i, score: 1 }],
      banUntil: 0,
      banMs: 0,
      updatedAt: i,
      expiresAt: Number.MAX_SAFE_INTEGER,
    }));
  }
  await provider.close();
}

function runWorker(path: string, tag: number): Promise<void> {
  return new Promise((done, fail) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { path, tag } });
    worker.once('error', fail);
    worker.once('exit', (code) => (code === 0 ? done() : fail(new Error(`worker exit ${code}`))));
  });
}

if (isMainThread) {
  test('two connections on one SQLite file never lose a defender update', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubesftp-defender-race-'));
    const path = join(dir, 'kubesftp.db');
    try {
      const setup = new SqliteProvider({ path, usersTable: 'users' });
      await setup.initialize();
      await Promise.all([runWorker(path, 1), runWorker(path, 2)]);
      const host = await setup.getDefenderHost('192.0.2.1');
      assert.equal(host?.events.length, 2 * UPDATES_PER_WORKER);
      await setup.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
} else {
  const { path, tag } = workerData as { path: string; tag: number };
  await appendEvents(path, tag);
  parentPort?.close();
}
