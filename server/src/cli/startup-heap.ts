/**
 * Keeps the start of `serve` from inflating V8's young generation for the life of the process.
 *
 * Loading the server (hundreds of modules, schema compilation) keeps most of what it allocates,
 * so each scavenge sees a high survival rate and V8 doubles the semi-spaces up to their 16 MiB
 * limit. V8 shrinks them again only after a collection at a low allocation rate, which an idle
 * server never runs, so about 30 MiB stayed resident doing nothing. With the growth factor at 1
 * during startup the young generation stays at its initial size; the factor returns to V8's
 * default (2) once the server listens, so transfers still grow it when they need it.
 */
import { setFlagsFromString } from 'node:v8';

/** V8's own default for --semi-space-growth-factor (unchanged from Node 20 to 24). */
const DEFAULT_GROWTH_FACTOR = 2;

export interface StartupHeap {
  /** Lets the young generation grow again; call once the server is up (or failed). */
  release(): void;
}

export function holdYoungGeneration(): StartupHeap {
  setFlagsFromString('--semi-space-growth-factor=1');
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
    },
  };
}
