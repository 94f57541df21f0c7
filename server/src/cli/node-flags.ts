/**
 * The V8 flags kubesftp runs with wherever it starts: the image's entrypoint (Containerfile),
 * `make run`, the executable's first line (cli/main.ts) and the test harness, which
 * node-flags.test.ts keeps in step. Heap sizes are fixed when the process starts, so they
 * cannot be set from within.
 *
 * `--max-semi-space-size=1` (MiB, the smallest V8 takes) caps V8's young generation, which
 * otherwise grows to 16 MiB per half under a busy server. Every Buffer the server has read from a
 * socket and let go of is freed only when the young generation is next collected, so a small one
 * is collected more often and holds less: with 32 uploads at once, 2 MiB per half peaked 20–40 MiB
 * below the default (decision 0030) and 1 MiB about another 10 MiB lower.
 *
 * `--initial-old-space-size=32` (MiB) starts the old generation's collection limit there instead
 * of at about 18 MiB. A busy upload reached the small limit every 100 ms or so and paid a full
 * collection each time, about a quarter of its CPU; with 32 the full collections per GiB fall
 * from 60–66 to 28 and the server uses a fifth to a third less CPU, while the 32-upload peak
 * stays where it was (docs/decisions/0032-one-shared-budget-and-a-smaller-young-generation.md).
 */
export const NODE_FLAGS = ['--max-semi-space-size=1', '--initial-old-space-size=32'] as const;
