/**
 * What one action hands its hooks, built from an event without side effects: the program's
 * arguments and environment, and the HTTP notification's query and body. Argument order and
 * variable names are the spec's, so programs written for it run unchanged (SFTPGO_ prefix).
 */
import { join } from 'node:path/posix';
import { FsProvider, type User } from '../dataprovider/types.js';
import { userReplySchema } from '../dataprovider/account-validators.generated.js';
import { declaredOnly } from '../dataprovider/declared-only.js';
import type { SFTP_ACTIONS, USER_ACTIONS } from '../config/choices.js';
import { KeyMap, normalizeKeyPrefix } from '../vfs/s3-settings.js';

export type FileActionName = (typeof SFTP_ACTIONS)[number];
export type UserActionName = (typeof USER_ACTIONS)[number];

/** One action as its hooks see it. */
export interface ActionCall {
  action: string;
  username: string;
  /** The program's arguments, in the spec's order. */
  args: string[];
  /** Added to the server's own environment for the program. */
  env: Record<string, string>;
  /** The notification's query parameters, percent-encoded when the URL is built. */
  query: Record<string, string>;
  /** User actions: the account as JSON, POSTed; file actions send a GET with no body. */
  body?: string;
}

export interface FileActionEvent {
  action: FileActionName;
  user: User;
  /** Canonical virtual path; empty for an SSH command that names none. */
  virtualPath: string;
  targetPath?: string;
  sshCommand?: string;
  /** Present for upload, download and delete. */
  size?: number;
}

/**
 * Where a virtual path lives: the file-system path under a local home (canonical virtual
 * paths never climb out of it), or `s3://bucket/key` for an S3 home.
 */
export function storagePath(user: User, virtualPath: string): { path: string; local: boolean } {
  if (virtualPath === '') return { path: '', local: user.filesystem.provider !== FsProvider.s3 };
  const s3 = user.filesystem.s3config;
  if (user.filesystem.provider === FsProvider.s3 && s3 !== undefined) {
    const key = new KeyMap(normalizeKeyPrefix(s3.key_prefix)).fileKey(virtualPath);
    return { path: `s3://${s3.bucket}/${key}`, local: false };
  }
  return {
    path: virtualPath === '/' ? user.home_dir : join(user.home_dir, virtualPath),
    local: true,
  };
}

export function fileActionCall(event: FileActionEvent): ActionCall {
  const { action, user } = event;
  const { path, local } = storagePath(user, event.virtualPath);
  const target = event.targetPath === undefined ? '' : storagePath(user, event.targetPath).path;
  const sshCommand = event.sshCommand ?? '';
  const size = event.size === undefined ? '' : String(event.size);
  const query: Record<string, string> = {
    action,
    username: user.username,
    path,
    local_file: String(local),
  };
  if (action === 'rename') query.target_path = target;
  if (action === 'ssh_cmd') query.ssh_cmd = sshCommand;
  if (size !== '') query.file_size = size;
  return {
    action,
    username: user.username,
    args: [action, user.username, path, target, sshCommand],
    env: {
      SFTPGO_ACTION: action,
      SFTPGO_ACTION_USERNAME: user.username,
      SFTPGO_ACTION_PATH: path,
      SFTPGO_ACTION_TARGET: target,
      SFTPGO_ACTION_SSH_CMD: sshCommand,
      SFTPGO_ACTION_FILE_SIZE: size,
      SFTPGO_ACTION_LOCAL_FILE: String(local),
    },
    query,
  };
}

/**
 * The account as the REST API shows it: the reply schema has no password hash and no S3
 * secret, and cleaning drops every property it does not declare, so a secret added to the
 * account later stays out too.
 */
export function publicUser(user: User): Record<string, unknown> {
  return declaredOnly(userReplySchema, user) as Record<string, unknown>;
}

export function userActionCall(action: UserActionName, user: User): ActionCall {
  const fields = {
    username: user.username,
    id: String(user.id),
    status: String(user.status),
    expiration_date: String(user.expiration_date),
    home_dir: user.home_dir,
    uid: String(user.uid),
    gid: String(user.gid),
  };
  return {
    action,
    username: user.username,
    args: [action, ...Object.values(fields)],
    env: {
      SFTPGO_USER_ACTION: action,
      SFTPGO_USER_USERNAME: fields.username,
      SFTPGO_USER_ID: fields.id,
      SFTPGO_USER_STATUS: fields.status,
      SFTPGO_USER_EXPIRATION_DATE: fields.expiration_date,
      SFTPGO_USER_HOME_DIR: fields.home_dir,
      SFTPGO_USER_UID: fields.uid,
      SFTPGO_USER_GID: fields.gid,
    },
    query: { action },
    body: JSON.stringify(publicUser(user)),
  };
}
