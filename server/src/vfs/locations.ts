/**
 * Locate, act, give back: the one shape of every path operation over a Backend, so a Location
 * is never used after it is released nor kept by mistake.
 */
import type { Backend, Location } from './types.js';

/** Runs `act` on the location of `path`, then releases it whatever happened. */
export async function atLocation<T>(
  backend: Backend,
  target: { path: string; followFinal: boolean },
  act: (at: Location) => Promise<T>,
): Promise<T> {
  const at = await backend.locate(target.path, { followFinal: target.followFinal });
  try {
    return await act(at);
  } finally {
    at.release();
  }
}

/** The two names of a rename or link, neither final name followed. */
export function atBothLocations<T>(
  backend: Backend,
  paths: [string, string],
  act: (first: Location, second: Location) => Promise<T>,
): Promise<T> {
  return atLocation(backend, { path: paths[0], followFinal: false }, (first) =>
    atLocation(backend, { path: paths[1], followFinal: false }, (second) => act(first, second)),
  );
}
