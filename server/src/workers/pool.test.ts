import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import pino from 'pino';
import { until } from '../../../test/sftp/harness.js';
import type { GateTicket } from '../ssh/connection-gate.js';
import type { FromWorker, ToWorker } from './messages.js';
import { WorkerPool } from './pool.js';

/** A worker process as the pool sees it: messages in and out, exit on kill. */
class FakeWorker extends EventEmitter {
  static nextPid = 1000;
  readonly pid = FakeWorker.nextPid++;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly received: ToWorker[] = [];

  send(message: ToWorker, ...rest: unknown[]): boolean {
    this.received.push(message);
    const callback = rest.find((r) => typeof r === 'function') as
      ((err: Error | null) => void) | undefined;
    callback?.(null);
    return true;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.die(null, signal);
    return true;
  }

  die(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (this.exitCode !== null || this.signalCode !== null) return;
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
  }

  reply(message: FromWorker): void {
    this.emit('message', message);
  }
}

interface Ticket extends GateTicket {
  state: 'open' | 'logged-in' | 'released';
}

function ticket(): Ticket {
  const t: Ticket = {
    state: 'open',
    loggedIn: () => (t.state = 'logged-in'),
    release: () => (t.state = 'released'),
  };
  return t;
}

const socket = (): Socket => ({ destroy: () => undefined, remotePort: 1 }) as unknown as Socket;

function pool(count: number): { pool: WorkerPool; forked: FakeWorker[]; released: string[] } {
  const forked: FakeWorker[] = [];
  const released: string[] = [];
  const p = new WorkerPool({
    count,
    log: pino({ level: 'silent' }),
    fork: () => {
      const worker = new FakeWorker();
      forked.push(worker);
      // Ready on the next turn, as a real worker would be after it opened the provider.
      setImmediate(() => worker.reply({ t: 'ready', nodeId: `node-${worker.pid}` }));
      return worker as unknown as ChildProcess;
    },
    releaseNode: (nodeId) => {
      released.push(nodeId);
      return Promise.resolve(1);
    },
    requestTimeoutMs: 200,
  });
  return { pool: p, forked, released };
}

const handoffs = (w: FakeWorker): number[] =>
  w.received.flatMap((m) => (m.t === 'socket' ? [m.handoff] : []));

describe('worker pool', () => {
  test('hands each socket to the worker with the fewest, and frees the ticket when it closes', async () => {
    const { pool: p, forked } = pool(2);
    await p.start();
    const [a, b] = forked as [FakeWorker, FakeWorker];
    const tickets = [ticket(), ticket(), ticket()];
    for (const t of tickets) p.handOff(socket(), t);
    assert.equal(handoffs(a).length, 2);
    assert.equal(handoffs(b).length, 1);
    b.reply({ t: 'logged-in', handoff: handoffs(b)[0]! });
    assert.equal(tickets[1]!.state, 'logged-in');
    assert.equal(p.loggedIn(), 1);
    b.reply({ t: 'closed', handoff: handoffs(b)[0]! });
    assert.equal(tickets[1]!.state, 'released');
    p.handOff(socket(), ticket());
    assert.equal(handoffs(b).length, 2, 'b has fewer again');
    await p.kill();
  });

  test('a worker that dies frees its tickets and rows and is replaced; the other is untouched', async () => {
    const { pool: p, forked, released } = pool(2);
    await p.start();
    const [a, b] = forked as [FakeWorker, FakeWorker];
    const onA = ticket();
    const onB = ticket();
    p.handOff(socket(), onA);
    p.handOff(socket(), onB);
    a.die(null, 'SIGKILL');
    assert.equal(onA.state, 'released');
    assert.equal(onB.state, 'open');
    assert.deepEqual(released, [`node-${a.pid}`]);
    await until(() => forked.length === 3, 2000, 'a replacement forked');
    assert.equal(b.exitCode, null);
    await p.kill();
  });

  test('lists and closes through every worker; one that does not answer adds nothing', async () => {
    const { pool: p, forked } = pool(2);
    await p.start();
    const [a] = forked as [FakeWorker, FakeWorker];
    const listing = p.connections().list();
    const request = a.received.find((m) => m.t === 'list');
    assert.ok(request?.t === 'list');
    const info = {
      connection_id: 'c1',
      username: 'u',
      client_version: 'SSH-2.0-x',
      remote_address: '127.0.0.1:1',
      connection_time: 1,
      last_activity: 1,
      protocol: 'SFTP',
      active_transfers: [],
    };
    a.reply({ t: 'reply', request: request.request, result: [info] });
    assert.deepEqual(await listing, [info], 'b did not answer within the deadline');
    await p.kill();
  });

  test('drain sends the grace period to each worker and waits for them to exit', async () => {
    const { pool: p, forked } = pool(2);
    await p.start();
    const drained = p.drain(30_000);
    for (const w of forked) {
      assert.deepEqual(w.received.at(-1), { t: 'drain', graceMs: 30_000 });
      w.die(0);
    }
    await drained;
    assert.equal(forked.length, 2, 'no replacement while draining');
  });

  test('a worker that exits before it is ready fails the start', async () => {
    const p = new WorkerPool({
      count: 1,
      log: pino({ level: 'silent' }),
      fork: () => {
        const worker = new FakeWorker();
        setImmediate(() => worker.die(1));
        return worker as unknown as ChildProcess;
      },
      releaseNode: () => Promise.resolve(0),
    });
    await assert.rejects(p.start(), /sftp worker 0 exited before it was ready/);
    await p.kill();
  });

  test('kill after a failed start also kills a worker still starting, and returns', async () => {
    const forked: FakeWorker[] = [];
    const p = new WorkerPool({
      count: 2,
      log: pino({ level: 'silent' }),
      fork: (slot) => {
        const worker = new FakeWorker();
        forked.push(worker);
        // Slot 0 fails its start; slot 1 never reports ready within the test.
        if (slot === 0) setImmediate(() => worker.die(1));
        return worker as unknown as ChildProcess;
      },
      releaseNode: () => Promise.resolve(0),
      readyTimeoutMs: 10_000,
    });
    await assert.rejects(p.start(), /sftp worker 0 exited before it was ready/);
    const starting = forked[1]!;
    assert.equal(starting.signalCode, null, 'still starting when kill() is called');
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(resolve, 2_000, 'hung')));
    const outcome = await Promise.race([p.kill().then(() => 'returned' as const), hung]);
    clearTimeout(timer);
    assert.equal(outcome, 'returned');
    assert.equal(starting.signalCode, 'SIGKILL');
    assert.equal(forked.length, 2, 'no replacement forked');
  });
});
