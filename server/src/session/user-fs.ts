import type { User } from '../dataprovider/types.js';
import { createBackend, type BackendSettings } from '../vfs/backends.js';
import type { Vfs } from '../vfs/types.js';
import { PolicyVfs } from './policy-vfs.js';
import { SystemCommandPolicy } from './system-commands.js';
import type { QuotaTracker, SessionContext, SessionEvents, SessionRef } from './types.js';

export interface UserFsSettings extends BackendSettings {
  trackQuota: 0 | 1 | 2;
  chownAnyId: boolean;
}

export interface UserSessionOptions {
  user: User;
  session: SessionRef;
  /** The connection's share of the user's quota (ClusterSessions.quotaFor). */
  quota: QuotaTracker;
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
    quota: options.quota,
    setstatMode: settings.setstatMode,
    trackQuota: settings.trackQuota,
    chownAnyId: settings.chownAnyId,
    touch: () => session.touch(),
    bandwidth: session.bandwidth,
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
