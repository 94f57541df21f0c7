/**
 * The typed log records, one per log category. Field names are the spec's, so log tooling
 * written for it (fail2ban filters, dashboards) keeps working.
 */

export type Protocol = 'SFTP' | 'SCP' | 'SSH';

export interface TransferLog {
  sender: 'Upload' | 'Download';
  elapsed_ms: number;
  size_bytes: number;
  username: string;
  file_path: string;
  connection_id: string;
  protocol: Exclude<Protocol, 'SSH'>;
}

export type CommandSender =
  | 'Rename'
  | 'Rmdir'
  | 'Mkdir'
  | 'Symlink'
  | 'Remove'
  | 'Chmod'
  | 'Chown'
  | 'Chtimes'
  | 'Link'
  | 'Truncate'
  | 'SSHCommand';

/** Fields that do not apply to the sender may be left out: they log as '' or -1. */
export interface CommandLog {
  sender: CommandSender;
  username: string;
  connection_id: string;
  protocol: Protocol;
  file_path?: string;
  target_path?: string;
  /** Chmod only: a permission string or numeric mode (logged as 4-digit octal). */
  filemode?: string | number;
  /** Chown only. */
  uid?: number;
  gid?: number;
  /** Chtimes only. */
  access_time?: Date;
  modification_time?: Date;
  /** SSHCommand only. */
  ssh_command?: string;
}

export type LoginType = 'public_key' | 'password' | 'keyboard-interactive' | 'no_auth_tryed';

export interface ConnectionFailedLog {
  /** Empty when the client left before trying to log in. */
  username: string;
  client_ip: string;
  login_type: LoginType;
  error?: string;
}

export interface HttpLog {
  remote_addr: string;
  proto: string;
  method: string;
  user_agent: string;
  uri: string;
  resp_status: number;
  resp_size: number;
  elapsed_ms: number;
  request_id: string;
}

/** `YYYY-MM-DDTHH:MM:SS` in UTC, as the command log expects. */
export function formatLogTime(time: Date | undefined): string {
  return time === undefined ? '' : time.toISOString().slice(0, 19);
}

function formatMode(mode: string | number | undefined): string {
  if (mode === undefined) return '';
  return typeof mode === 'number' ? (mode & 0o7777).toString(8).padStart(4, '0') : mode;
}

/** A command record with every field present, defaults filled as the spec says. */
export function commandEntry(log: CommandLog): Record<string, string | number> {
  return {
    sender: log.sender,
    username: log.username,
    file_path: log.file_path ?? '',
    target_path: log.target_path ?? '',
    filemode: formatMode(log.filemode),
    uid: log.uid ?? -1,
    gid: log.gid ?? -1,
    access_time: formatLogTime(log.access_time),
    modification_time: formatLogTime(log.modification_time),
    ssh_command: log.ssh_command ?? '',
    connection_id: log.connection_id,
    protocol: log.protocol,
  };
}
