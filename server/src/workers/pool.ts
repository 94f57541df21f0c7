/**
 * The primary's side of `sftpd.workers` > 1: it forks the workers, hands each admitted socket
 * to the one with the fewest connections, keeps the gate ticket of every socket it handed
 * until the worker reports it closed, replaces a worker that dies (releasing its session rows
 * at once), and drains them all on shutdown.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ErrorCode, KubesftpError } from '../errors.js';
import type { ClusterHealthSource } from '../httpd/health.js';
import type { ClusterMetricsSource } from '../httpd/metrics.js';
import type { ActiveConnections, ConnectionInfo } from '../httpd/types.js';
import type { GateTicket } from '../ssh/connection-gate.js';
import { isMessage, type FromWorker, type ToWorker } from './messages.js';
import type { MetricJson } from './metrics.js';

export interface WorkerPoolOptions {
  count: number;
  log: Logger;
  /** Starts the worker of a slot, with an IPC channel. */
  fork(slot: number): ChildProcess;
  /** Deletes the session rows of a process that is gone; resolves with the count. */
  releaseNode(nodeId: string): Promise<number>;
  /** How long a worker may take to report ready. */
  readyTimeoutMs?: number;
  /** How long a worker may take to answer a connection list, close or metrics request. */
  requestTimeoutMs?: number;
}

interface HandedSocket {
  ticket: GateTicket;
  loggedIn: boolean;
}

type Reply = ConnectionInfo[] | boolean | MetricJson[] | undefined;

/** A request to a worker, without the id the pool gives it. */
type Ask = { t: 'list' } | { t: 'close'; connectionId: string } | { t: 'metrics' };

/** One worker's registry as JSON, or undefined when it did not answer in time. */
export interface WorkerMetricsAnswer {
  slot: number;
  metrics: MetricJson[] | undefined;
}

/** What /metrics and /healthz read of the cluster sessions. */
export interface ClusterView extends ClusterHealthSource {
  stats: ClusterMetricsSource['stats'];
}

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  nodeId: string | undefined;
  sockets: Map<number, HandedSocket>;
  requests: Map<number, (reply: Reply) => void>;
  /** When its recent workers died, for the back-off. */
  crashes: number[];
  respawn: NodeJS.Timeout | undefined;
}

/** Crashes within this window count towards the back-off. */
const CRASH_WINDOW_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;
/**
 * What a worker still running this long after the grace period gets: SIGKILL. After the grace
 * period a worker gives its connections up to CLOSED_WAIT_MS (5 s) to close and its actions
 * ACTIONS_SETTLE_MS (5 s), then writes its last quota settlements; killed before that, they
 * would be lost.
 */
const DRAIN_KILL_AFTER_MS = 15_000;

/** Back-off before forking again: none for the first crash in a minute, then 1, 2, 4 ... 30 s. */
export function respawnDelayMs(recentCrashes: number): number {
  if (recentCrashes <= 1) return 0;
  return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (recentCrashes - 2));
}

export class WorkerPool {
  readonly #o: WorkerPoolOptions;
  readonly #slots: Slot[];
  #draining = false;
  readonly #releasing = new Set<Promise<void>>();
  #nextHandoff = 1;
  #nextRequest = 1;
  #restarts = 0;
  readonly #exitListeners: Array<(slot: number) => void> = [];

  constructor(options: WorkerPoolOptions) {
    this.#o = options;
    this.#slots = Array.from({ length: options.count }, (_, index) => ({
      index,
      child: undefined,
      nodeId: undefined,
      sockets: new Map(),
      requests: new Map(),
      crashes: [],
      respawn: undefined,
    }));
  }

  /** Forks every worker and resolves once all are ready; a worker that fails to start rejects. */
  async start(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => this.#spawn(slot)));
    this.#o.log.info(
      { workers: this.#slots.map((s) => s.child?.pid) },
      'sftp workers ready: connections are handed to them',
    );
  }

  /** Hands an admitted socket to the live worker with the fewest sockets. */
  readonly handOff = (socket: Socket, ticket: GateTicket): void => {
    const slot = this.#leastBusy();
    if (slot?.child === undefined) {
      this.#o.log.warn('connection refused: no worker is running');
      ticket.release();
      socket.destroy();
      return;
    }
    const handoff = this.#nextHandoff++;
    slot.sockets.set(handoff, { ticket, loggedIn: false });
    this.#o.log.debug(
      { worker: slot.index, client_port: socket.remotePort },
      'connection handed to a worker',
    );
    const message: ToWorker = { t: 'socket', handoff };
    // keepOpen false: once the descriptor is in the worker, this process closes its copy.
    slot.child.send(message, socket, { keepOpen: false }, (err) => {
      if (err === null) return;
      this.#o.log.warn({ err, worker: slot.child?.pid }, 'could not hand a connection over');
      this.#settle(slot, handoff);
      socket.destroy();
    });
  };

  /** Logged-in connections on every worker, as far as they have reported. */
  loggedIn(): number {
    let count = 0;
    for (const slot of this.#slots) {
      for (const handed of slot.sockets.values()) if (handed.loggedIn) count += 1;
    }
    return count;
  }

  /**
   * The primary's own cluster figures with the workers' logged-in connections added to its
   * session count (the other figures stay the primary's: per-worker ones are not gathered),
   * and its health degraded while no worker runs to serve a connection.
   */
  withWorkers(cluster: ClusterView): ClusterView {
    return {
      stats: () => {
        const own = cluster.stats();
        return { ...own, sessions: own.sessions + this.loggedIn() };
      },
      health: () => {
        const own = cluster.health();
        if (this.#live().length > 0) return own;
        return { status: 'degraded', reasons: [...own.reasons, 'no sftp worker is running'] };
      },
    };
  }

  /** The connection list and close of the REST API, answered by the workers. */
  connections(): ActiveConnections {
    return {
      list: async () => {
        const lists = await Promise.all(this.#live().map((s) => this.#request(s, { t: 'list' })));
        return lists.flatMap((list) => (Array.isArray(list) ? (list as ConnectionInfo[]) : []));
      },
      close: async (connectionId) => {
        const closed = await Promise.all(
          this.#live().map((s) => this.#request(s, { t: 'close', connectionId })),
        );
        return closed.includes(true);
      },
    };
  }

  /** Every live worker's metrics registry as JSON; a worker that does not answer gives none. */
  async metrics(): Promise<WorkerMetricsAnswer[]> {
    return Promise.all(
      this.#live().map(async (slot) => {
        const reply = await this.#request(slot, { t: 'metrics' });
        return {
          slot: slot.index,
          metrics: Array.isArray(reply) ? (reply as MetricJson[]) : undefined,
        };
      }),
    );
  }

  /** Workers ready to serve. */
  liveCount(): number {
    return this.#live().length;
  }

  /** Replacement workers forked after one died, since the start. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Calls `listener` with the slot of every worker that exits (died, drained or killed). */
  onExit(listener: (slot: number) => void): void {
    this.#exitListeners.push(listener);
  }

  /**
   * Sends every worker the drain message (each gives its transfers `graceMs`, then closes) and
   * resolves once all have exited; what still runs DRAIN_KILL_AFTER_MS later is killed.
   */
  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    for (const slot of this.#slots) clearTimeout(slot.respawn);
    // A worker still starting serves nothing yet: it goes now.
    for (const slot of this.#slots) if (slot.nodeId === undefined) slot.child?.kill('SIGKILL');
    const live = this.#live();
    const message: ToWorker = { t: 'drain', graceMs };
    for (const slot of live) slot.child?.send(message, (err) => err && slot.child?.kill('SIGKILL'));
    const killer = setTimeout(() => this.#killAll(), graceMs + DRAIN_KILL_AFTER_MS);
    await Promise.all(live.map((slot) => exited(slot.child)));
    clearTimeout(killer);
    await Promise.all(this.#releasing);
  }

  /** Kills every worker at once, those still starting too (a start that failed). */
  async kill(): Promise<void> {
    this.#draining = true;
    for (const slot of this.#slots) clearTimeout(slot.respawn);
    const running = this.#slots.filter((slot) => slot.child !== undefined);
    for (const slot of running) slot.child?.kill('SIGKILL');
    await Promise.all(running.map((slot) => exited(slot.child)));
  }

  #killAll(): void {
    for (const slot of this.#live()) {
      this.#o.log.warn(
        { worker: slot.child?.pid },
        'worker killed: still running after the grace period',
      );
      slot.child?.kill('SIGKILL');
    }
  }

  #live(): Slot[] {
    return this.#slots.filter((s) => s.child !== undefined && s.nodeId !== undefined);
  }

  #leastBusy(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.#live()) {
      if (best === undefined || slot.sockets.size < best.sockets.size) best = slot;
    }
    return best;
  }

  /** Forks the slot's worker; resolves when it is ready, rejects when it exits before. */
  #spawn(slot: Slot): Promise<void> {
    const child = this.#o.fork(slot.index);
    slot.child = child;
    // A send to a worker that just died must not become an uncaught error.
    child.on('error', (err) =>
      this.#o.log.warn({ err, worker: child.pid }, 'worker channel error'),
    );
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(workerFailure(slot, `did not report ready in ${this.readyTimeoutMs} ms`));
        child.kill('SIGKILL');
      }, this.readyTimeoutMs);
      child.on('message', (message: unknown) => {
        if (!isMessage<FromWorker>(message)) return;
        if (message.t === 'ready') {
          clearTimeout(timer);
          slot.nodeId = message.nodeId;
          resolve();
        } else {
          this.#received(slot, message);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const wasReady = slot.nodeId !== undefined;
        this.#exited(slot, { code, signal, pid: child.pid });
        if (!wasReady)
          reject(workerFailure(slot, `exited before it was ready (${signal ?? code})`));
      });
    });
  }

  get readyTimeoutMs(): number {
    return this.#o.readyTimeoutMs ?? 60_000;
  }

  #received(slot: Slot, message: FromWorker): void {
    switch (message.t) {
      case 'logged-in': {
        const handed = slot.sockets.get(message.handoff);
        if (handed === undefined) return;
        handed.loggedIn = true;
        handed.ticket.loggedIn();
        return;
      }
      case 'closed':
        return this.#settle(slot, message.handoff);
      case 'reply':
        slot.requests.get(message.request)?.(message.result);
        slot.requests.delete(message.request);
        return;
      default:
        return;
    }
  }

  #settle(slot: Slot, handoff: number): void {
    slot.sockets.get(handoff)?.ticket.release();
    slot.sockets.delete(handoff);
  }

  /** A worker is gone: its sockets leave the gate, its rows the provider, and a new one starts. */
  #exited(slot: Slot, how: { code: number | null; signal: string | null; pid?: number }): void {
    const { nodeId } = slot;
    const connections = slot.sockets.size;
    for (const handoff of [...slot.sockets.keys()]) this.#settle(slot, handoff);
    for (const answer of slot.requests.values()) answer(undefined);
    slot.requests.clear();
    slot.child = undefined;
    slot.nodeId = undefined;
    for (const listener of this.#exitListeners) listener(slot.index);
    // Rows a worker left (killed, or killed after the grace period) go at once.
    if (nodeId !== undefined) this.#releaseRows(nodeId, how.pid);
    if (this.#draining) {
      this.#o.log.info({ worker: how.pid, code: how.code, signal: how.signal }, 'worker exited');
      return;
    }
    this.#o.log.error(
      { worker: how.pid, code: how.code, signal: how.signal, connections },
      'worker died: its connections are lost; replacing it',
    );
    this.#scheduleRespawn(slot);
  }

  #releaseRows(nodeId: string, pid: number | undefined): void {
    const log = this.#o.log;
    const releasing: Promise<void> = this.#o.releaseNode(nodeId).then(
      (count) => {
        if (count > 0)
          log.info({ worker: pid, sessions: count }, 'sessions of a gone worker released');
      },
      (err: unknown) =>
        log.warn(
          { err, worker: pid },
          'sessions of a gone worker not released: they lapse after session_expiry',
        ),
    );
    this.#releasing.add(releasing);
    void releasing.finally(() => this.#releasing.delete(releasing));
  }

  #scheduleRespawn(slot: Slot): void {
    const now = Date.now();
    slot.crashes = [...slot.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    const wait = respawnDelayMs(slot.crashes.length);
    if (wait > 0)
      this.#o.log.warn({ slot: slot.index, delay_ms: wait }, 'worker crashes again: backing off');
    slot.respawn = setTimeout(() => {
      slot.respawn = undefined;
      if (this.#draining) return;
      this.#restarts += 1;
      this.#spawn(slot).catch((err: unknown) =>
        this.#o.log.error({ err }, 'replacement worker failed to start'),
      );
    }, wait);
  }

  /** Asks one worker; resolves undefined when it does not answer within the deadline. */
  #request(slot: Slot, ask: Ask): Promise<Reply> {
    const request = this.#nextRequest++;
    const message: ToWorker = { ...ask, request };
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        slot.requests.delete(request);
        this.#o.log.warn(
          { worker: slot.child?.pid, request: ask.t },
          'worker did not answer in time',
        );
        resolve(undefined);
      }, this.#o.requestTimeoutMs ?? 2_000);
      slot.requests.set(request, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      slot.child?.send(message);
    });
  }
}

function workerFailure(slot: Slot, what: string): KubesftpError {
  return new KubesftpError(ErrorCode.FAILURE, `sftp worker ${slot.index} ${what}`);
}

function exited(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
