/**
 * Keeps V8's optimizing compiler (TurboFan) off until the first client connects.
 *
 * A server that starts and then waits runs its start-up code once; optimizing it brings about
 * 4 MiB of the compiler's own code pages into memory, and an idle pod keeps them for nothing.
 * The interpreter runs that code as fast as it needs to run once. The first client switches the
 * compiler on for the life of the process, so sessions are optimized as before.
 * V8 documents changing flags at run time as unsupported: optimizing-compiler.test.ts checks in
 * a process of its own that both switches still take effect.
 */
import { setFlagsFromString } from 'node:v8';

let deferred = false;

/** Call before the server's modules load, so their code is not compiled at start. */
export function deferOptimizingCompiler(): void {
  if (deferred) return;
  deferred = true;
  setFlagsFromString('--no-turbofan');
}

/** Switches the compiler back on (V8's default); cheap to call for every connection. */
export function optimizeFromNow(): void {
  if (!deferred) return;
  deferred = false;
  setFlagsFromString('--turbofan');
}
