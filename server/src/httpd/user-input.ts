import path from 'node:path';
import {
  FsProvider,
  type NewUser,
  type S3Config,
  type User,
  type UserFilesystem,
  type UserInput,
} from '../dataprovider/account-schema.js';

export type { UserInput };

const emptyS3Config: S3Config = {
  bucket: '',
  region: '',
  access_key: '',
  access_secret: '',
  endpoint: '',
  storage_class: '',
  key_prefix: '',
};

function defaultedAccount(username: string): NewUser {
  return {
    username,
    password: '',
    public_keys: [],
    status: 1,
    expiration_date: 0,
    home_dir: '',
    uid: 0,
    gid: 0,
    max_sessions: 0,
    quota_size: 0,
    quota_files: 0,
    permissions: {},
    upload_bandwidth: 0,
    download_bandwidth: 0,
    filters: { allowed_ip: [], denied_ip: [] },
    filesystem: { provider: FsProvider.local },
  };
}

const PROVIDER_OWNED = [
  'id',
  'used_quota_size',
  'used_quota_files',
  'last_quota_update',
  'last_login',
] as const;

/** Strips what the provider owns (id, usage counters) from a stored user. */
export function toNewUser(user: User): NewUser {
  const entries = Object.entries(user).filter(
    ([key]) => !(PROVIDER_OWNED as readonly string[]).includes(key),
  );
  return Object.fromEntries(entries) as NewUser;
}

/**
 * An S3 config is laid over the stored one field by field, so a client may send only what
 * changes; sent without its secret it keeps the stored one, since replies never show it.
 */
function mergeFilesystem(stored: UserFilesystem, input: UserInput['filesystem']): UserFilesystem {
  if (input === undefined) return stored;
  if (input.provider !== FsProvider.s3) return { provider: input.provider };
  const sent = input.s3config ?? {};
  const kept: Partial<S3Config> = stored.provider === FsProvider.s3 ? (stored.s3config ?? {}) : {};
  const keptSecret = sent.access_secret ? sent.access_secret : (kept.access_secret ?? '');
  return {
    provider: input.provider,
    s3config: { ...emptyS3Config, ...kept, ...sent, access_secret: keptSecret },
  };
}

function withHomeDefault(user: NewUser, usersBaseDir: string | undefined): NewUser {
  if (user.home_dir !== '' || !usersBaseDir) return user;
  return { ...user, home_dir: path.join(usersBaseDir, user.username) };
}

export interface MergeOptions {
  /** The stored user on update; absent on create. */
  existing?: User;
  usersBaseDir?: string;
}

/**
 * Lays the sent properties over the stored account (update) or over the defaults (create).
 * The password is sent on as given: empty means "keep the stored hash" on update.
 */
export function mergeUserInput(input: UserInput, options: MergeOptions): NewUser {
  const base = options.existing
    ? toNewUser(options.existing)
    : defaultedAccount(input.username ?? '');
  const { filters, filesystem, password, ...scalars } = input;
  const merged: NewUser = {
    ...base,
    ...scalars,
    password: password ?? '',
    filters: { ...base.filters, ...filters },
    filesystem: mergeFilesystem(base.filesystem, filesystem),
  };
  return withHomeDefault(merged, options.usersBaseDir);
}
