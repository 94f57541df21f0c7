/** Polling for a state of the cluster, with the last error and the cluster's side on timeout. */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves with the first value `check` gives that is not undefined. On timeout the error
 * names what was awaited, the last error `check` threw and what `describeFailure` says.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  describeFailure?: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  const detail = describeFailure === undefined ? '' : `\n${await describeFailure()}`;
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}${detail}`,
  );
}
