import type { User } from '../dataprovider/types.js';
import type { CommandLog, Protocol, TransferLog } from '../logger/records.js';

export type { Protocol };
export type TransferRecord = TransferLog;
export type CommandRecord = CommandLog;

/** An SSH command that ran to the end with exit status 0. */
export interface SshCommandEvent {
  username: string;
  connectionId: string;
  /** The command's name, as the spec's `ssh_cmd` action passes it (`md5sum`, `rsync`, ...). */
  command: string;
  /** The virtual path the command acted on; empty when it names none (pwd, md5sum of stdin). */
  virtualPath: string;
}

/** Where a session reports what happened; the logger (and later actions, metrics) listen. */
export interface SessionEvents {
  transfer(record: TransferRecord): void;
  command(record: CommandRecord): void;
  /**
   * The `ssh_cmd` action's trigger: an SSH command other than scp (whose files are uploads
   * and downloads) completed successfully. Optional until actions are implemented.
   */
  sshCommandCompleted?(event: SshCommandEvent): void;
}

export interface QuotaUsage {
  size: number;
  files: number;
}

/** The user's quota usage as the data provider keeps it, shared by every pod. */
export interface QuotaTracker {
  usage(): Promise<QuotaUsage>;
  add(sizeDelta: number, filesDelta: number): Promise<void>;
  /** Replaces the usage with what a scan of the home found. */
  reset(usage: QuotaUsage): Promise<void>;
}

export interface SessionContext {
  user: User;
  connectionId: string;
  protocol: Protocol;
  events: SessionEvents;
  quota: QuotaTracker;
  /** 1 ignores chmod, chown and chtimes requests without an error. */
  setstatMode: 0 | 1;
  /** 0 off, 1 always, 2 only for users with quota limits (the spec's track_quota). */
  trackQuota: 0 | 1 | 2;
  /** chown may set any uid and gid; otherwise only the account's own (sftpd.chown_any_id). */
  chownAnyId: boolean;
  /** Called on every request so idle timeouts see activity. */
  touch(): void;
}
