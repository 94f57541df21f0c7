import { mkdir } from 'node:fs/promises';
import type { DataProvider, User } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { LocalVfs } from '../vfs/local.js';
import type { Vfs } from '../vfs/types.js';
import { PolicyVfs } from './policy-vfs.js';
import type { Protocol, QuotaTracker, SessionEvents } from './types.js';

export interface UserFsSettings {
  umask: number;
  uploadMode: 0 | 1 | 2;
  setstatMode: 0 | 1;
  trackQuota: 0 | 1 | 2;
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
 * Opens the file system a protocol session works on: the backend for the user's home,
 * wrapped in the policy layer. The home directory is created on first use, as SFTPGo does.
 */
export async function openUserFs(options: {
  user: User;
  session: { connectionId: string; protocol: Protocol; touch(): void };
  provider: DataProvider;
  events: SessionEvents;
  settings: UserFsSettings;
}): Promise<Vfs> {
  const { user, session, settings } = options;
  if (user.filesystem.provider !== 0) {
    throw new KubesftpError(ErrorCode.UNSUPPORTED, 'S3 homes are not available yet');
  }
  await mkdir(user.home_dir, { recursive: true, mode: 0o755 });
  const backend = new LocalVfs({
    root: user.home_dir,
    umask: settings.umask,
    uploadMode: settings.uploadMode,
    setstatMode: settings.setstatMode,
    uid: user.uid,
    gid: user.gid,
  });
  return new PolicyVfs(backend, {
    user,
    connectionId: session.connectionId,
    protocol: session.protocol,
    events: options.events,
    quota: providerQuota(options.provider, user.username),
    setstatMode: settings.setstatMode,
    trackQuota: settings.trackQuota,
    touch: () => session.touch(),
  });
}
