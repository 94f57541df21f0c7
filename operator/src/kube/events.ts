/**
 * Events (core/v1) for what the operator did or could not do, shown by `kubectl describe`.
 * The same event for the same object is recorded once per window, so a reconcile that retries
 * does not flood the namespace; recording never fails a reconcile. Normal events share a budget
 * (a token bucket): a thousand SftpUsers applied at once would otherwise cost the API server a
 * thousand Event writes while it is the bottleneck of making them Ready. What the budget leaves
 * out is counted in one log line; Warnings are always recorded.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { formatTime } from '../api/conditions.js';
import type { KubeObject } from '../api/objects.js';
import type { KubeClient } from './client.js';
import { Resources } from './resources.js';

export type EventType = 'Normal' | 'Warning';

export interface EventInput {
  object: KubeObject;
  type: EventType;
  /** A CamelCase word, e.g. AccountCreated. */
  reason: string;
  message: string;
}

export interface EventRecorder {
  record(event: EventInput): void;
}

export interface KubeEventRecorderOptions {
  client: KubeClient;
  component: string;
  logger: Logger;
  /** An identical event for the same object is not recorded again within this time (10 min). */
  dedupeMs?: number;
  /** Normal events recorded at once (default 25), and refilled per second after (default 2). */
  normalBudget?: { burst: number; perSecond: number };
}

/** How often the count of Normal events left out is logged, when there are any. */
const LEFT_OUT_REPORT_MS = 10_000;

export class KubeEventRecorder implements EventRecorder {
  readonly #options: KubeEventRecorderOptions;
  readonly #recent = new Map<string, number>();
  readonly #pending = new Set<Promise<void>>();
  readonly #budget: { burst: number; perSecond: number };
  #tokens: number;
  #refilledAt = Date.now();
  readonly #leftOut = new Map<string, number>();
  #reportTimer: NodeJS.Timeout | undefined;

  constructor(options: KubeEventRecorderOptions) {
    this.#options = options;
    this.#budget = options.normalBudget ?? { burst: 25, perSecond: 2 };
    this.#tokens = this.#budget.burst;
  }

  record(event: EventInput): void {
    const { metadata } = event.object;
    const key = [metadata.uid, event.type, event.reason, event.message].join('|');
    const now = Date.now();
    const dedupeMs = this.#options.dedupeMs ?? 600_000;
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < dedupeMs) return;
    this.#recent.set(key, now);
    if (event.type === 'Normal' && !this.#takeToken(now)) {
      this.#leaveOut(event.reason);
      return;
    }
    if (this.#recent.size > 10_000) this.#prune(now - dedupeMs);
    const write = this.#write(event, new Date(now)).finally(() => this.#pending.delete(write));
    this.#pending.add(write);
  }

  /** Waits for the events being written (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
    if (this.#reportTimer !== undefined) {
      clearTimeout(this.#reportTimer);
      this.#reportLeftOut();
    }
  }

  #takeToken(now: number): boolean {
    const { burst, perSecond } = this.#budget;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) / 1000) * perSecond);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #leaveOut(reason: string): void {
    this.#leftOut.set(reason, (this.#leftOut.get(reason) ?? 0) + 1);
    this.#reportTimer ??= setTimeout(() => this.#reportLeftOut(), LEFT_OUT_REPORT_MS).unref();
  }

  #reportLeftOut(): void {
    this.#reportTimer = undefined;
    const leftOut = Object.fromEntries(this.#leftOut);
    this.#leftOut.clear();
    this.#options.logger.info(
      { leftOut },
      'Normal events over the budget were not recorded (status conditions show the same)',
    );
  }

  #prune(before: number): void {
    for (const [key, at] of this.#recent) if (at < before) this.#recent.delete(key);
  }

  async #write(event: EventInput, at: Date): Promise<void> {
    const { metadata } = event.object;
    const time = formatTime(at);
    try {
      await this.#options.client.create(Resources.event, {
        metadata: {
          name: `${metadata.name}.${randomBytes(8).toString('hex')}`,
          namespace: metadata.namespace ?? 'default',
        },
        involvedObject: {
          apiVersion: event.object.apiVersion,
          kind: event.object.kind,
          name: metadata.name,
          namespace: metadata.namespace,
          uid: metadata.uid,
          resourceVersion: metadata.resourceVersion,
        },
        type: event.type,
        reason: event.reason,
        message: event.message.slice(0, 1024),
        source: { component: this.#options.component },
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      });
    } catch (err) {
      this.#options.logger.warn(
        { err: String(err), reason: event.reason },
        'could not record an event',
      );
    }
  }
}
