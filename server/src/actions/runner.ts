/**
 * The actions of one configuration section (sftpd or data_provider): which events run them,
 * and each event's program and notification queued as jobs, their outcomes logged and counted.
 * Firing never waits and never throws, so no transfer or REST call is held up by a hook.
 */
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { ActionCall } from './calls.js';
import { notifyHttp, runProgram, type HookOutcome } from './hooks.js';
import { ActionQueue } from './queue.js';

export interface ActionSettings {
  execute_on: readonly string[];
  command: string;
  http_notification_url: string;
}

export type ActionSection = 'sftpd' | 'data_provider';
type Hook = 'command' | 'http';
type CountedResult = HookOutcome['result'] | 'dropped';

export interface ActionMetrics {
  count(section: ActionSection, hook: Hook, result: CountedResult): void;
}

const ACTIONS_TOTAL = 'kubesftp_actions_total';
const DROP_LOG_INTERVAL_MS = 10_000;

/** kubesftp_actions_total{section, hook, result}: ok, failed, timeout or dropped (queue full). */
export function registerActionMetrics(registry: Registry): ActionMetrics {
  const existing = registry.getSingleMetric(ACTIONS_TOTAL);
  const counter =
    existing instanceof Counter
      ? (existing as Counter<'section' | 'hook' | 'result'>)
      : new Counter({
          name: ACTIONS_TOTAL,
          help: 'Custom action hooks by section, hook (command, http) and result (ok, failed, timeout, dropped when the queue was full)',
          labelNames: ['section', 'hook', 'result'],
          registers: [registry],
        });
  return { count: (section, hook, result) => counter.inc({ section, hook, result }) };
}

export interface ActionRunnerOptions {
  section: ActionSection;
  settings: ActionSettings;
  queue: ActionQueue;
  log: Logger;
  metrics: ActionMetrics;
  /** The spec's limits: 30 s for a file action's program, 15 s for a user action's. */
  commandTimeoutMs: number;
  httpTimeoutMs: number;
}

export class ActionRunner {
  readonly #o: ActionRunnerOptions;
  readonly #on: ReadonlySet<string>;
  #dropped = 0;
  #lastDropLog = -Infinity;

  constructor(options: ActionRunnerOptions) {
    this.#o = options;
    const { settings } = options;
    const hooked = settings.command !== '' || settings.http_notification_url !== '';
    this.#on = new Set(hooked ? settings.execute_on : []);
  }

  /** Whether no action runs anything: callers may leave their events alone. */
  get idle(): boolean {
    return this.#on.size === 0;
  }

  /** Whether `action` runs anything; callers skip building the call when not. */
  handles(action: string): boolean {
    return this.#on.has(action);
  }

  /** Queues the call's program and notification; a full queue drops them, counted and logged. */
  fire(call: ActionCall): void {
    if (!this.#on.has(call.action)) return;
    const { command, http_notification_url: url } = this.#o.settings;
    if (command !== '') {
      this.#enqueue(call, 'command', () => runProgram(command, call, this.#o.commandTimeoutMs));
    }
    if (url !== '') {
      this.#enqueue(call, 'http', () => notifyHttp(url, call, this.#o.httpTimeoutMs));
    }
  }

  #enqueue(call: ActionCall, hook: Hook, run: () => Promise<HookOutcome>): void {
    const { section, metrics, log } = this.#o;
    const fields = { section, hook, action: call.action, username: call.username };
    const queued = this.#o.queue.push(async () => {
      const outcome = await run();
      metrics.count(section, hook, outcome.result);
      if (outcome.result !== 'ok') {
        log.warn({ ...fields, result: outcome.result, reason: outcome.detail }, 'action failed');
      }
    });
    if (queued) return;
    metrics.count(section, hook, 'dropped');
    this.#logDrop(fields);
  }

  /** One line per burst of drops, with how many: a flood must not flood the log too. */
  #logDrop(fields: Record<string, string>): void {
    this.#dropped += 1;
    const now = Date.now();
    if (now - this.#lastDropLog < DROP_LOG_INTERVAL_MS) return;
    this.#o.log.warn({ ...fields, dropped: this.#dropped }, 'actions dropped: too many waiting');
    this.#lastDropLog = now;
    this.#dropped = 0;
  }
}
