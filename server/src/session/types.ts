import type { User } from '../dataprovider/types.js';
import type { CommandLog, Protocol, TransferLog } from '../logger/records.js';
import type { SessionBandwidth } from './bandwidth.js';

export type { Protocol };
export type TransferRecord = TransferLog;
export type CommandRecord = CommandLog;

/** An SSH command that ran to the end with exit status 0. */
export interface SshCommandEvent {
  user: User;
  connectionId: string;
  /** The command's name, as the spec's `ssh_cmd` action passes it (`md5sum`, `rsync`, ...). */
  command: string;
  /** The virtual path the command acted on; empty when it names none (pwd, md5sum of stdin). */
  virtualPath: string;
}

/** A file operation that succeeded: an upload or download closed without an error, a file removed, a rename. */
export interface FileOperationEvent {
  operation: 'upload' | 'download' | 'delete' | 'rename';
  user: User;
  connectionId: string;
  protocol: Protocol;
  /** The canonical virtual path the operation acted on (the source of a rename). */
  virtualPath: string;
  /** The new virtual path of a rename. */
  targetPath?: string;
  /** The file's size after an upload, the bytes a download read, the size a removed file had. */
  size?: number;
}

/** Where a session reports what happened; the logger and the custom actions listen. */
export interface SessionEvents {
  transfer(record: TransferRecord): void;
  command(record: CommandRecord): void;
  /** The upload, download, delete and rename actions' trigger. */
  fileOperationCompleted?(event: FileOperationEvent): void;
  /**
   * The `ssh_cmd` action's trigger: an SSH command other than scp (whose files are uploads
   * and downloads) completed successfully.
   */
  sshCommandCompleted?(event: SshCommandEvent): void;
}

export interface QuotaUsage {
  size: number;
  files: number;
}

/** A change of the stored usage, and what was taken from the quota for it. */
export interface QuotaChange {
  sizeDelta: number;
  filesDelta: number;
  /** Bytes and files taken (tryTake/take) for the operation that made the change. */
  takenSize: number;
  takenFiles: number;
}

/**
 * The user's quota as one session draws on it. Space is taken before bytes are written, from
 * a reservation the session holds in the data provider (made in chunks, so most writes ask
 * nothing of the database), and settled into the shared usage when the operation ends.
 */
export interface QuotaTracker {
  /** Takes space the session already holds; false when it must be reserved first (take). */
  tryTake(size: number, files: number): boolean;
  /** Takes space, reserving more when needed; throws QUOTA_EXCEEDED when the quota is spent. */
  take(size: number, files: number): Promise<void>;
  /** Adds the change to the stored usage; what was taken and not used goes back to the session. */
  settle(change: QuotaChange): Promise<void>;
  /** The stored usage (what every process has settled), for checks made before a whole job. */
  usage(): Promise<QuotaUsage>;
  /** Replaces the stored usage with what a scan of the home found. */
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
  /** The connection's byte rates, shared by all its channels; absent means unlimited. */
  bandwidth?: SessionBandwidth;
}

/** One protocol session (a channel) of a connection, as the layers above session/ name it. */
export interface SessionRef {
  connectionId: string;
  protocol: Protocol;
  touch(): void;
  /** The connection's byte rates (SessionBandwidth.forUser), shared by all its channels. */
  bandwidth?: SessionBandwidth;
}
