import type { DataProvider, User } from '../dataprovider/types.js';
import { createBackend, type BackendSettings } from '../vfs/backends.js';
import type { Vfs } from '../vfs/types.js';
import { PolicyVfs } from './policy-vfs.js';
import type { Protocol, QuotaTracker, SessionEvents } from './types.js';

export interface UserFsSettings extends BackendSettings {
  trackQuota: 0 | 1 | 2;
  chownAnyId: boolean;
}

/** The user's usage as the data provider holds it, so every pod sees the same numbers. */
export function providerQuota(provider: DataProvider, username: string): QuotaTracker {
  return {
    async usage() {
      const user = await provider.getUserByUsername(username);
      return { size: user?.used_quota_size ?? 0, files: user?.used_quota_files ?? 0 };
    },
    add: (sizeDelta, filesDelta) =>
      provider.updateQuota(username, { sizeDelta, filesDelta, reset: false }),
  };
}

/**
 * Opens the file system a protocol session works on: the backend for the user's home (chosen
 * by the backend factory), wrapped in the policy layer.
 */
export async function openUserFs(options: {
  user: User;
  session: { connectionId: string; protocol: Protocol; touch(): void };
  provider: DataProvider;
  events: SessionEvents;
  settings: UserFsSettings;
}): Promise<Vfs> {
  const { user, session, settings } = options;
  const backend = await createBackend(user, settings);
  return new PolicyVfs(backend, {
    user,
    connectionId: session.connectionId,
    protocol: session.protocol,
    events: options.events,
    quota: providerQuota(options.provider, user.username),
    setstatMode: settings.setstatMode,
    trackQuota: settings.trackQuota,
    chownAnyId: settings.chownAnyId,
    touch: () => session.touch(),
  });
}
