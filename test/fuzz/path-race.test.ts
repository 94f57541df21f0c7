/**
 * Path-race fuzzer: while /rw/d is swapped between a real directory and a symlink (through SFTP
 * and on disk), other sessions of the same tenant fire random path requests below /rw/d. Nothing
 * outside the home, and nothing in its narrow areas, may change or leak. The budget is
 * FUZZ_SECONDS (default 20, shared by the two runs); FUZZ_SEED replays a run's choices (the
 * seed is printed on failure; the interleaving itself depends on timing).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AttackBed, type Tenant } from '../attack/fixture.js';
import {
  attacker,
  diskSwapper,
  prng,
  RaceState,
  sftpSwapper,
  sweep,
  watcher,
  type RaceScenario,
} from '../attack/race-actors.js';

const FUZZ_SECONDS = Number(process.env['FUZZ_SECONDS'] ?? 20);
const SEED = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
/** Each of the two runs gets half the budget. */
const RUN_MS = Math.max(2, FUZZ_SECONDS / 2) * 1000;
const WORKERS_PER_SESSION = 3;

/** Links that lead out of the home, if anything followed them as the host would. */
const outside: RaceScenario = {
  vocabulary: [
    'secret.txt',
    'docs',
    'plan.txt',
    'empty',
    'shared.txt',
    'victim',
    'link-to-secret',
    'new.txt',
    'x',
  ],
  sftpTargets: (t) => ['/', '../../..', '/victim', '../../victim', t.victimHome, t.volume],
  diskTargets: (t) => [
    t.victimHome,
    t.volume,
    join(t.victimHome, 'docs'),
    '../../victim',
    '../..',
    '../../victim/docs',
  ],
  secrets: (t) => [t.markers.victim, t.markers.shared, t.markers.ro],
};

/** Links that lead into the narrow areas of the home: /ro (list) and /dl (list, download). */
const areas: RaceScenario = {
  vocabulary: ['a.txt', 'sub', 'b.txt', 'empty', 'file.txt', 'c.txt', 'new.txt', 'x'],
  sftpTargets: () => ['/ro', '/dl', '/ro/sub', '../ro', '/dl/sub', '../ro/sub'],
  diskTargets: (t) => ['../ro', '../dl', '../ro/sub', t.host('ro'), t.host('dl/sub')],
  secrets: (t) => [t.markers.victim, t.markers.shared, t.markers.ro],
};

/** A random starting tree for /rw/d, and the file hard-link steps link from. */
async function plantRaceTree(
  t: Tenant,
  seed: number,
  vocabulary: readonly string[],
): Promise<void> {
  const random = prng(seed);
  const d = t.host('rw/d');
  await mkdir(d, { recursive: true });
  for (let i = 0; i < 8; i++) {
    const first = vocabulary[Math.floor(random() * vocabulary.length)]!;
    const second = vocabulary[Math.floor(random() * vocabulary.length)]!;
    if (random() < 0.4) {
      await mkdir(join(d, first, second), { recursive: true }).catch(() => undefined);
    } else {
      await writeFile(join(d, first), `decoy ${first}\n`).catch(() => undefined);
    }
  }
  await writeFile(t.host('rw/seed.txt'), 'linked in by the race\n');
}

/** Stops the run at the deadline, or earlier when a violation stopped it. */
async function deadline(state: RaceState, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!state.stopped && Date.now() < end) {
    await new Promise((done) => setTimeout(done, 100));
  }
  state.stopped = true;
}

async function race(bed: AttackBed, scenario: RaceScenario, seed: number): Promise<RaceState> {
  const t = await bed.tenant();
  await plantRaceTree(t, seed, scenario.vocabulary);
  const sessions = await Promise.all([t.session(), t.session(), t.session()]);
  const baseline = await t.protectedState();
  const state = new RaceState();
  const actors: Promise<void>[] = [
    diskSwapper(t, scenario, prng(seed + 1), state),
    sftpSwapper(sessions[0].sftp, t, { random: prng(seed + 2), race: scenario, state }),
    watcher(t, baseline, state, 200),
  ];
  for (const [s, session] of sessions.slice(1).entries()) {
    for (let w = 0; w < WORKERS_PER_SESSION; w++) {
      const name = `session-${s + 1}/worker-${w}`;
      const random = prng(seed + 10 + s * WORKERS_PER_SESSION + w);
      actors.push(attacker(session.sftp, t, { name, random, race: scenario, state }));
    }
  }
  const guarded = actors.map((actor) =>
    actor.catch((err: unknown) => state.fail(`an actor failed: ${String(err)}`)),
  );
  await deadline(state, RUN_MS);
  await Promise.all(guarded);
  await Promise.all(sessions.map((session) => session.close()));
  await sweep(t.host('rw'));
  const changes = (await t.protectedState()).digest !== baseline.digest;
  if (changes && state.violation === undefined) state.violation = 'protected files changed';
  return state;
}

function report(state: RaceState, seed: number): string {
  return [
    `path race: ${state.violation}`,
    `seed ${seed}: replay with FUZZ_SEED=${seed} FUZZ_SECONDS=${FUZZ_SECONDS} node --test dist/test/fuzz/path-race.test.js`,
    `${state.steps} steps, ${state.swaps} swaps; the last steps:`,
    state.recent(),
  ].join('\n');
}

describe(
  'path races never reach outside the home or into its narrow areas',
  {
    timeout: RUN_MS * 2 + 120_000,
  },
  () => {
    let bed: AttackBed;

    before(async () => {
      bed = await AttackBed.start();
    });
    after(() => bed?.stop());

    test('swapping /rw/d for links that lead outside the home never touches the other tenant', async (t) => {
      const state = await race(bed, outside, SEED);
      assert.equal(state.violation, undefined, report(state, SEED));
      t.diagnostic(`seed ${SEED}: ${state.steps} steps, ${state.swaps} swaps`);
      assert.ok(state.swaps > 0, 'the run swapped /rw/d at least once');
    });

    test('swapping /rw/d for links into /ro and /dl never changes them or leaks /ro', async (t) => {
      const state = await race(bed, areas, SEED + 1000);
      assert.equal(state.violation, undefined, report(state, SEED + 1000));
      t.diagnostic(`seed ${SEED + 1000}: ${state.steps} steps, ${state.swaps} swaps`);
      assert.ok(state.swaps > 0, 'the run swapped /rw/d at least once');
    });
  },
);
