/** The `defender` config section as the Defender takes it: durations in ms, parsed lists. */
import type { DefenderConfig } from '../config/schema.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { IpRanges } from '../session/ip-ranges.js';
import type { DefenderSettings } from './defender.js';

const MINUTE_MS = 60_000;

function rangesOf(entries: readonly string[], key: string): IpRanges {
  try {
    return new IpRanges(entries, key);
  } catch (err) {
    throw new KubesftpError(ErrorCode.CONFIG_INVALID, (err as Error).message);
  }
}

/** Throws CONFIG_INVALID naming the key when a value cannot work. */
export function defenderSettingsFrom(config: DefenderConfig): DefenderSettings {
  if (config.entries_soft_limit >= config.entries_hard_limit) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      'defender.entries_soft_limit: must be lower than defender.entries_hard_limit',
    );
  }
  return {
    enabled: config.enabled,
    policy: {
      threshold: config.threshold,
      banMs: config.ban_time * MINUTE_MS,
      banIncrementPercent: config.ban_time_increment,
      observationMs: config.observation_time * MINUTE_MS,
    },
    scores: {
      invalid_user: config.score_invalid,
      failed_login: config.score_valid,
      limit_exceeded: config.score_limit_exceeded,
      no_auth: config.score_no_auth,
    },
    safeList: rangesOf(config.safe_list, 'defender.safe_list'),
    blockList: rangesOf(config.block_list, 'defender.block_list'),
    entries: { softLimit: config.entries_soft_limit, hardLimit: config.entries_hard_limit },
  };
}
