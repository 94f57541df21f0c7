import type { User } from '../dataprovider/types.js';
import { createBackend } from '../vfs/backends.js';
import type { Vfs } from '../vfs/types.js';
import { PolicyVfs } from './policy-vfs.js';
import type { Protocol, QuotaTracker, SessionEvents } from './types.js';

export interface UserFsSettings {
  umask: number;
  uploadMode: 0 | 1 | 2;
  setstatMode: 0 | 1;
  trackQuota: 0 | 1 | 2;
  chownAnyId: boolean;
}

/**
 * Opens the file system a protocol session works on: the backend for the user's home (chosen
 * by the backend factory), wrapped in the policy layer.
 */
export async function openUserFs(options: {
  user: User;
  session: { connectionId: string; protocol: Protocol; touch(): void };
  /** The connection's share of the user's quota (ClusterSessions.quotaFor). */
  quota: QuotaTracker;
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
    quota: options.quota,
    setstatMode: settings.setstatMode,
    trackQuota: settings.trackQuota,
    chownAnyId: settings.chownAnyId,
    touch: () => session.touch(),
  });
}
