/**
 * Samples per metric and server, collected one run at a time with the servers taking turns,
 * so that a slow phase of the machine weighs on both rather than on one. The order flips every
 * run: a gigabyte transfer right after the other server's ran measurably slower, whichever
 * server came second.
 */
import type { BenchServer } from './client.js';
import type { ServerKey } from './settings.js';

/** A server slot: started, or the reason it could not start. */
export interface ServerSlot {
  key: ServerKey;
  server?: BenchServer;
  startError?: string;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Results {
  readonly #samples = new Map<string, Map<ServerKey, number[]>>();
  readonly #errors = new Map<string, Map<ServerKey, string>>();

  add(metric: string, key: ServerKey, value: number): void {
    const perServer = this.#samples.get(metric) ?? new Map<ServerKey, number[]>();
    perServer.set(key, [...(perServer.get(key) ?? []), value]);
    this.#samples.set(metric, perServer);
  }

  fail(metric: string, key: ServerKey, error: string): void {
    const perServer = this.#errors.get(metric) ?? new Map<ServerKey, string>();
    if (!perServer.has(key)) perServer.set(key, error);
    this.#errors.set(metric, perServer);
  }

  samples(metric: string, key: ServerKey): number[] {
    return this.#samples.get(metric)?.get(key) ?? [];
  }

  error(metric: string, key: ServerKey): string | undefined {
    return this.#errors.get(metric)?.get(key);
  }
}

export interface RepeatOptions {
  metric: string;
  slots: ServerSlot[];
  runs: number;
  results: Results;
  /** One measurement; its value is recorded, and a throw stops this metric for this server. */
  probe: (server: BenchServer, key: ServerKey, run: number) => Promise<number>;
  /** Progress output, one line per measurement. */
  log?: (line: string) => void;
}

/** The servers in the order they take their turn in `run`: as given, then reversed. */
export function turnOrder<T>(slots: readonly T[], run: number): T[] {
  return run % 2 === 0 ? [...slots] : [...slots].reverse();
}

export async function repeat(options: RepeatOptions): Promise<void> {
  const { metric, results } = options;
  for (let run = 0; run < options.runs; run++) {
    for (const slot of turnOrder(options.slots, run)) {
      if (slot.server === undefined) {
        results.fail(
          metric,
          slot.key,
          `server did not start: ${slot.startError ?? 'unknown reason'}`,
        );
        continue;
      }
      if (results.error(metric, slot.key) !== undefined) continue;
      try {
        const value = await options.probe(slot.server, slot.key, run);
        results.add(metric, slot.key, value);
        options.log?.(`  ${metric} [${slot.key}] run ${run + 1}: ${value.toFixed(2)}`);
      } catch (err) {
        results.fail(metric, slot.key, errorText(err));
        options.log?.(`  ${metric} [${slot.key}] run ${run + 1} failed: ${errorText(err)}`);
      }
    }
  }
}
