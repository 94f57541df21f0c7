/**
 * Events (core/v1) for what the operator did or could not do, shown by `kubectl describe`.
 * The same event for the same object is recorded once per window, so a reconcile that retries
 * does not flood the namespace; recording never fails a reconcile.
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
}

export class KubeEventRecorder implements EventRecorder {
  readonly #options: KubeEventRecorderOptions;
  readonly #recent = new Map<string, number>();
  readonly #pending = new Set<Promise<void>>();

  constructor(options: KubeEventRecorderOptions) {
    this.#options = options;
  }

  record(event: EventInput): void {
    const { metadata } = event.object;
    const key = [metadata.uid, event.type, event.reason, event.message].join('|');
    const now = Date.now();
    const dedupeMs = this.#options.dedupeMs ?? 600_000;
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < dedupeMs) return;
    this.#recent.set(key, now);
    if (this.#recent.size > 10_000) this.#prune(now - dedupeMs);
    const write = this.#write(event, new Date(now)).finally(() => this.#pending.delete(write));
    this.#pending.add(write);
  }

  /** Waits for the events being written (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
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
