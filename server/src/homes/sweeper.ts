/**
 * Every server process sweeps the homes of deleted accounts (reclaimPolicy Delete): at start
 * and every few seconds it claims due removals from the data provider, one process per
 * removal for a lease, and removes each home through its storage backend. A removal that
 * fails is tried again later (5 s doubling to 10 min) up to MAX_ATTEMPTS times; one refused
 * (a home outside the homes base, a symlink) or whose home an account uses again is given up
 * with nothing removed. Every outcome is logged and counted.
 */
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { DataProvider, HomeRemoval } from '../dataprovider/types.js';
import { HomeRemovalRefused, removeHome, type RemoveHomeSettings } from './remove-home.js';

export const SWEEP_INTERVAL_MS = 5_000;
/** Longer than any removal should take; a process that dies holding one frees it after this. */
export const REMOVAL_LEASE_MS = 10 * 60_000;
export const MAX_ATTEMPTS = 10;
/** Removals one sweep takes at most before it lets the next interval go on. */
const PER_SWEEP = 100;

export const HOME_REMOVAL_RESULTS = [
  'removed',
  'absent',
  'in_use',
  'refused',
  'retried',
  'failed',
] as const;
export type HomeRemovalResult = (typeof HOME_REMOVAL_RESULTS)[number];

type RemovalProvider = Pick<
  DataProvider,
  'claimHomeRemoval' | 'finishHomeRemoval' | 'deferHomeRemoval' | 'dropHomeRemoval'
>;

export interface HomeSweeperOptions {
  provider: RemovalProvider;
  /** This process, as the lease names it. */
  nodeId: string;
  logger: Logger;
  settings: RemoveHomeSettings;
  intervalMs?: number;
  leaseMs?: number;
}

/** How long a failed removal waits before the next attempt: 5 s doubling, at most 10 min. */
export function retryDelayMs(attempts: number): number {
  return Math.min(5_000 * 2 ** Math.max(attempts - 1, 0), 600_000);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class HomeSweeper {
  readonly #o: HomeSweeperOptions;
  readonly #counts = new Map<HomeRemovalResult, number>(HOME_REMOVAL_RESULTS.map((r) => [r, 0]));
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: HomeSweeperOptions) {
    this.#o = options;
  }

  start(): void {
    this.sweepSoon();
    this.#timer = setInterval(() => this.sweepSoon(), this.#o.intervalMs ?? SWEEP_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Sweeps now; a request while a sweep runs makes one more after it. */
  sweepSoon(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.sweep().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.sweepSoon();
      }
    });
  }

  /** Takes and removes due removals until none is left (or PER_SWEEP were taken). */
  async sweep(): Promise<void> {
    for (let taken = 0; taken < PER_SWEEP && !this.#stopped; taken++) {
      let claim;
      try {
        claim = await this.#o.provider.claimHomeRemoval({
          nodeId: this.#o.nodeId,
          leaseMs: this.#o.leaseMs ?? REMOVAL_LEASE_MS,
        });
      } catch (err) {
        this.#o.logger.warn(
          { err: reason(err) },
          'home removals: the data provider did not answer',
        );
        return;
      }
      if (claim === undefined) return;
      if (claim.kind === 'in_use') {
        this.#record('in_use', claim.removal, { used_by: claim.usedBy }, 'warn');
        continue;
      }
      await this.#remove(claim.removal);
    }
  }

  async #remove(removal: HomeRemoval): Promise<void> {
    try {
      const result = await removeHome(removal, this.#o.settings);
      await this.#o.provider.finishHomeRemoval(removal.id, this.#o.nodeId);
      if (result.found) this.#record('removed', removal, { entries: result.entries }, 'info');
      else this.#record('absent', removal, {}, 'info');
    } catch (err) {
      await this.#failed(removal, err).catch((failure: unknown) =>
        this.#o.logger.warn({ err: reason(failure) }, 'home removals: could not record a failure'),
      );
    }
  }

  async #failed(removal: HomeRemoval, err: unknown): Promise<void> {
    if (err instanceof HomeRemovalRefused) {
      await this.#o.provider.dropHomeRemoval(removal.id);
      this.#record('refused', removal, { err: err.message }, 'error');
      return;
    }
    const attempts = removal.attempts + 1;
    if (attempts >= MAX_ATTEMPTS) {
      await this.#o.provider.dropHomeRemoval(removal.id);
      this.#record('failed', removal, { err: reason(err), attempts }, 'error');
      return;
    }
    const afterMs = retryDelayMs(attempts);
    await this.#o.provider.deferHomeRemoval({
      id: removal.id,
      nodeId: this.#o.nodeId,
      error: reason(err),
      afterMs,
    });
    this.#record('retried', removal, { err: reason(err), attempts, retry_ms: afterMs }, 'warn');
  }

  #record(
    result: HomeRemovalResult,
    removal: HomeRemoval,
    fields: Record<string, unknown>,
    level: 'info' | 'warn' | 'error',
  ): void {
    this.#counts.set(result, (this.#counts.get(result) ?? 0) + 1);
    this.#o.logger[level](
      { username: removal.username, home_dir: removal.home_dir, result, ...fields },
      MESSAGES[result],
    );
  }

  counts(): ReadonlyMap<HomeRemovalResult, number> {
    return this.#counts;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}

const MESSAGES: Record<HomeRemovalResult, string> = {
  removed: 'removed the home of a deleted account',
  absent: 'the home of a deleted account was already gone',
  in_use: 'kept the home of a deleted account: another account uses it now',
  refused: 'refused to remove the home of a deleted account; nothing was removed',
  retried: 'could not remove the home of a deleted account; will try again',
  failed: 'gave up removing the home of a deleted account; what is left stays',
};

/** kubesftp_home_removals_total by result, read from the sweeper at each scrape. */
export function registerHomeRemovalMetrics(registry: Registry, sweeper: HomeSweeper): void {
  const name = 'kubesftp_home_removals_total';
  if (registry.getSingleMetric(name) !== undefined) return;
  new Counter({
    name,
    help: 'Homes of deleted accounts (reclaimPolicy Delete) handled by this process, by result: removed, absent, in_use, refused, retried, failed',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [result, count] of sweeper.counts()) this.inc({ result }, count);
    },
  });
}
