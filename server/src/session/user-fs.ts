import type { DataProvider, User } from '../dataprovider/types.js';
import { createBackend, type BackendSettings } from '../vfs/backends.js';
import type { Vfs } from '../vfs/types.js';
import { PolicyVfs } from './policy-vfs.js';
import { SystemCommandPolicy } from './system-commands.js';
import type { Protocol, QuotaTracker, SessionContext, SessionEvents } from './types.js';

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
    reset: ({ size, files }) =>
      provider.updateQuota(username, { sizeDelta: size, filesDelta: files, reset: true }),
  };
}

interface UserSessionOptions {
  user: User;
  session: { connectionId: string; protocol: Protocol; touch(): void };
  provider: DataProvider;
  events: SessionEvents;
  settings: UserFsSettings;
}

function sessionContext(options: UserSessionOptions): SessionContext {
  const { user, session, settings } = options;
  return {
    user,
    connectionId: session.connectionId,
    protocol: session.protocol,
    events: options.events,
    quota: providerQuota(options.provider, user.username),
    setstatMode: settings.setstatMode,
    trackQuota: settings.trackQuota,
    chownAnyId: settings.chownAnyId,
    touch: () => session.touch(),
  };
}

/**
 * Opens the file system a protocol session works on: the backend for the user's home (chosen
 * by the backend factory), wrapped in the policy layer.
 */
export async function openUserFs(options: UserSessionOptions): Promise<Vfs> {
  const backend = await createBackend(options.user, options.settings);
  return new PolicyVfs(backend, sessionContext(options));
}

/** The policy for running a system binary (rsync, git) on the user's home. */
export function systemCommandPolicy(options: UserSessionOptions): SystemCommandPolicy {
  return new SystemCommandPolicy(sessionContext(options));
}
