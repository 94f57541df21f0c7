/**
 * The two hooks an action can have: a program and an HTTP notification. Each settles as an
 * outcome and never throws; what failed is said without the call's values (paths and names
 * are logged by the caller, URLs never: they may carry credentials).
 */
import { spawn } from 'node:child_process';
import type { ActionCall } from './calls.js';

export type HookResult = 'ok' | 'failed' | 'timeout';

export interface HookOutcome {
  result: HookResult;
  /** Why it failed: an exit status, a signal, an HTTP status or an error message. */
  detail?: string;
}

/**
 * Runs `program` with the call's arguments (never through a shell) and its variables on top of
 * the server's environment. Output goes nowhere: no client ever sees it. The program gets its
 * own process group, so a timeout kills whatever it started too.
 */
export function runProgram(
  program: string,
  call: ActionCall,
  timeoutMs: number,
): Promise<HookOutcome> {
  return new Promise((resolve) => {
    let timedOut = false;
    const child = spawn(program, call.args, {
      env: { ...process.env, ...call.env },
      stdio: 'ignore',
      detached: true,
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    timer.unref();
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ result: 'failed', detail: err.message });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve({ result: 'timeout', detail: `killed after ${timeoutMs} ms` });
      else if (code === 0) resolve({ result: 'ok' });
      else resolve({ result: 'failed', detail: signal ? `signal ${signal}` : `exit ${code}` });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * GET (file actions) or POST with the account as JSON (user actions) to `url` with the call's
 * query parameters added; any 2xx answer is success.
 */
export async function notifyHttp(
  url: string,
  call: ActionCall,
  timeoutMs: number,
): Promise<HookOutcome> {
  const target = new URL(url);
  for (const [name, value] of Object.entries(call.query)) target.searchParams.append(name, value);
  const headers: Record<string, string> = {};
  // fetch refuses credentials in a URL; user:password@ becomes Basic authentication.
  if (target.username !== '' || target.password !== '') {
    const credentials = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(target, {
      method: call.body === undefined ? 'GET' : 'POST',
      headers,
      body: call.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { result: 'ok' };
    return { result: 'failed', detail: `HTTP ${res.status}` };
  } catch (err) {
    if (err instanceof Error && err.name === 'TimeoutError') {
      return { result: 'timeout', detail: `no answer in ${timeoutMs} ms` };
    }
    return { result: 'failed', detail: errorDetail(err, target.href) };
  }
}

/**
 * fetch says only "fetch failed"; the reason (ECONNREFUSED, ...) is in its cause. The URL is
 * cut out of any message: its query may hold a token.
 */
function errorDetail(err: unknown, href: string): string {
  const message = (err instanceof Error ? err.message : String(err)).replaceAll(href, '<url>');
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? `${message}: ${cause.code}` : message;
}
