/** Shared fixtures for tests that need accounts. */
import type { NewUser } from './types.js';

/** An active account with every permission and nothing limited; `overrides` set what a test needs. */
export function newUser(overrides: Partial<NewUser> = {}): NewUser {
  return {
    username: 'alice',
    password: '',
    public_keys: [],
    status: 1,
    expiration_date: 0,
    home_dir: '/srv/sftp/alice',
    uid: 0,
    gid: 0,
    max_sessions: 0,
    quota_size: 0,
    quota_files: 0,
    permissions: { '/': ['*'] },
    upload_bandwidth: 0,
    download_bandwidth: 0,
    filters: { allowed_ip: [], denied_ip: [] },
    filesystem: { provider: 0 },
    ...overrides,
  };
}
