#!/usr/bin/env -S node --max-semi-space-size=1 --initial-old-space-size=32
/**
 * The `kubesftp` executable. It keeps V8's optimizing compiler off before any other module
 * loads (compiling the command line's own modules is what brings the compiler's pages in; see
 * optimizing-compiler.ts), then runs the command line of program.ts.
 */
import { deferOptimizingCompiler } from '../optimizing-compiler.js';

deferOptimizingCompiler();
const { runMain } = await import('./program.js');
await runMain();
