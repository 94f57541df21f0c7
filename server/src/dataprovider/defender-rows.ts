/**
 * The defender's records as SQL rows, shared by the SQL drivers: one row per client address,
 * the scored events as JSON.
 */
import type { DefenderEvent, DefenderHost } from './types.js';

export interface DefenderRow {
  ip: string;
  /** JSON text, or already parsed where the server has a JSON type (PostgreSQL jsonb). */
  events: string | DefenderEvent[];
  ban_until: number;
  ban_ms: number;
  updated_at: number;
  expires_at: number;
}

export function fromDefenderRow(row: DefenderRow): DefenderHost {
  const events =
    typeof row.events === 'string' ? (JSON.parse(row.events) as DefenderEvent[]) : row.events;
  return {
    ip: row.ip,
    events: events.map(({ at, score }) => ({ at: Number(at), score: Number(score) })),
    banUntil: Number(row.ban_until),
    banMs: Number(row.ban_ms),
    updatedAt: Number(row.updated_at),
    expiresAt: Number(row.expires_at),
  };
}

export function toDefenderParams(ip: string, host: DefenderHost): Record<string, string | number> {
  return {
    ip,
    events: JSON.stringify(host.events.map(({ at, score }) => ({ at, score }))),
    ban_until: host.banUntil,
    ban_ms: host.banMs,
    updated_at: host.updatedAt,
    expires_at: host.expiresAt,
  };
}
