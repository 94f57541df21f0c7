/** Builds the configured defender: scores and bans in memory, or in the shared data provider. */
import type { DefenderConfig } from '../config/schema.js';
import { DefenderHostMap } from '../dataprovider/defender-hosts.js';
import type { DataProvider } from '../dataprovider/types.js';
import { Defender, type BanNotice } from './defender.js';
import { defenderSettingsFrom } from './settings.js';

export { Defender, type BanNotice, type DefenderSettings, type HostEvent } from './defender.js';
export type { HostStatus } from './defender.js';
export { defenderSettingsFrom } from './settings.js';

export function createDefender(options: {
  config: DefenderConfig;
  provider: DataProvider;
  onBan?: (ban: BanNotice) => void;
  onStoreError?: (err: unknown) => void;
}): Defender {
  const settings = defenderSettingsFrom(options.config);
  const store =
    options.config.driver === 'memory' ? new DefenderHostMap(settings.entries) : options.provider;
  return new Defender({
    settings,
    store,
    onBan: options.onBan,
    onStoreError: options.onStoreError,
  });
}
