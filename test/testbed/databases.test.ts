/**
 * The database servers of the test bed: they start as unprivileged users on loopback, and they
 * stop when the test process that started them dies, even by SIGKILL. This file is also the
 * child's script: with KUBESFTP_DB_CHILD set it starts both servers, prints their ports and
 * waits to be killed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { startMariadb, startPostgres } from '../env/testbed.js';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function closedWithin(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await accepts(port))) return true;
    await sleep(100);
  }
  return false;
}

if (process.env['KUBESFTP_DB_CHILD'] === '1') {
  const [postgres, mariadb] = await Promise.all([startPostgres(), startMariadb()]);
  process.stdout.write(
    `${JSON.stringify({ pg: postgres.port, maria: mariadb.port, dirs: [postgres.dir, mariadb.dir] })}\n`,
  );
  setInterval(() => undefined, 60_000);
} else {
  void describe('database servers from the test bed', { timeout: 120_000 }, () => {
    void it('run PostgreSQL and MariaDB as non-root users, reachable with their passwords', async () => {
      const postgres = await startPostgres();
      const mariadb = await startMariadb();
      try {
        const client = new pg.Client({ connectionString: postgres.url('postgres') });
        await client.connect();
        const { rows } = await client.query<{ user: string; superuser: string }>(
          "SELECT current_user AS user, current_setting('is_superuser') AS superuser",
        );
        await client.end();
        assert.deepEqual(rows, [{ user: 'kubesftp', superuser: 'on' }]);
        const connection = await mysql.createConnection({ uri: mariadb.url('mysql') });
        const [version] = await connection.query('SELECT VERSION() AS v');
        await connection.end();
        assert.match((version as Array<{ v: string }>)[0]!.v, /MariaDB/);
        // Both refuse to run as root, so a running server proves the switch of user.
        assert.ok(postgres.timings.startMs > 0 && mariadb.timings.startMs > 0);
      } finally {
        await postgres.stop();
        await mariadb.stop();
      }
      assert.equal(await closedWithin(postgres.port, 5_000), true, 'postgres stopped');
      assert.equal(await closedWithin(mariadb.port, 5_000), true, 'mariadb stopped');
    });

    void it('stop when the test process that started them is killed with SIGKILL', async () => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
        env: { ...process.env, KUBESFTP_DB_CHILD: '1' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const line = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('\n')) resolve(text.split('\n')[0]!);
        });
        child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
      });
      const ports = JSON.parse(line) as { pg: number; maria: number; dirs: string[] };
      assert.equal(await accepts(ports.pg), true);
      assert.equal(await accepts(ports.maria), true);
      child.kill('SIGKILL');
      assert.equal(await closedWithin(ports.pg, 15_000), true, 'postgres outlived its test');
      assert.equal(await closedWithin(ports.maria, 15_000), true, 'mariadb outlived its test');
      // Only the directories are left behind by a killed test; this one cleans up after its child.
      for (const dir of ports.dirs) await rm(dir, { recursive: true, force: true });
    });
  });
}
