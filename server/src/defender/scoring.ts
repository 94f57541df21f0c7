/**
 * The defender's rules as pure functions of an address's record and the time, so the memory
 * and provider stores apply exactly the same ones.
 */
import type { DefenderHost } from '../dataprovider/types.js';

export interface DefenderPolicy {
  /** Score within the observation window at which an address is banned. */
  threshold: number;
  /** Length of a first ban. */
  banMs: number;
  /** Percent each further ban adds to the length of the previous one. */
  banIncrementPercent: number;
  /** How long an event counts towards the score; also how long a past ban is remembered. */
  observationMs: number;
}

/** Bans grow geometrically; this keeps a long-running offender's ban a finite date. */
export const MAX_BAN_MS = 30 * 24 * 3600_000;

export function isBannedAt(host: DefenderHost | undefined, now: number): boolean {
  return host !== undefined && host.banUntil > now;
}

/** The sum of the scores still inside the observation window. */
export function scoreAt(
  host: DefenderHost | undefined,
  now: number,
  observationMs: number,
): number {
  const since = now - observationMs;
  let total = 0;
  for (const event of host?.events ?? []) if (event.at > since) total += event.score;
  return total;
}

/** A first ban lasts banMs; each further one is banIncrementPercent longer than the last. */
export function nextBanMs(previousBanMs: number, policy: DefenderPolicy): number {
  if (previousBanMs <= 0) return Math.min(policy.banMs, MAX_BAN_MS);
  const grown = Math.round((previousBanMs * (100 + policy.banIncrementPercent)) / 100);
  return Math.min(Math.max(grown, policy.banMs), MAX_BAN_MS);
}

/**
 * The record after one scored event at `now`. Events of a banned address are ignored; a score
 * reaching the threshold starts a ban and clears the events. A record is kept until its last
 * event, or its last ban's end, is `observationMs` old, so a ban soon after a previous one grows.
 */
export function applyEvent(
  current: DefenderHost | undefined,
  event: { ip: string; score: number; now: number },
  policy: DefenderPolicy,
): DefenderHost {
  const { ip, score, now } = event;
  if (isBannedAt(current, now)) return current as DefenderHost;
  // An expired record not yet pruned is forgotten, ban history included.
  const live = current !== undefined && current.expiresAt > now ? current : undefined;
  const since = now - policy.observationMs;
  const events = [...(live?.events ?? []).filter((e) => e.at > since), { at: now, score }];
  const total = events.reduce((sum, e) => sum + e.score, 0);
  if (total >= policy.threshold) {
    const banMs = nextBanMs(live?.banMs ?? 0, policy);
    const banUntil = now + banMs;
    return {
      ip,
      events: [],
      banUntil,
      banMs,
      updatedAt: now,
      expiresAt: banUntil + policy.observationMs,
    };
  }
  const banUntil = live?.banUntil ?? 0;
  return {
    ip,
    events,
    banUntil,
    banMs: live?.banMs ?? 0,
    updatedAt: now,
    expiresAt: Math.max(now, banUntil) + policy.observationMs,
  };
}
