/**
 * Wire constants of SFTP version 3 (draft-ietf-secsh-filexfer-02) and the limits this engine
 * enforces. The limits@openssh.com reply is built from the same numbers the reader checks.
 */

export const SFTP_VERSION = 3;

export const PacketType = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

export const StatusCode = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

/** The fixed text sent with each status code; details go to the log, never to the client. */
export const STATUS_MESSAGES: Readonly<Record<StatusCode, string>> = {
  [StatusCode.OK]: 'Success',
  [StatusCode.EOF]: 'End of file',
  [StatusCode.NO_SUCH_FILE]: 'No such file',
  [StatusCode.PERMISSION_DENIED]: 'Permission denied',
  [StatusCode.FAILURE]: 'Failure',
  [StatusCode.BAD_MESSAGE]: 'Bad message',
  [StatusCode.NO_CONNECTION]: 'No connection',
  [StatusCode.CONNECTION_LOST]: 'Connection lost',
  [StatusCode.OP_UNSUPPORTED]: 'Operation unsupported',
};

export const AttrFlag = {
  SIZE: 0x00000001,
  UIDGID: 0x00000002,
  PERMISSIONS: 0x00000004,
  ACMODTIME: 0x00000008,
  EXTENDED: 0x80000000,
} as const;

export const OpenFlag = {
  READ: 0x00000001,
  WRITE: 0x00000002,
  APPEND: 0x00000004,
  CREAT: 0x00000008,
  TRUNC: 0x00000010,
  EXCL: 0x00000020,
} as const;

/** statvfs@openssh.com f_flag bits. */
export const StatVfsFlag = {
  RDONLY: 0x1,
  NOSUID: 0x2,
} as const;

/** Largest packet accepted or sent, length field excluded (as OpenSSH's SFTP_MAX_MSG_LENGTH). */
export const MAX_PACKET_LENGTH = 256 * 1024;
/** Room left in a packet for the header fields around READ/WRITE data. */
export const MAX_DATA_LENGTH = MAX_PACKET_LENGTH - 1024;
export const MAX_OPEN_HANDLES = 1024;
/**
 * Entries asked of the backend at a time for READDIR, at most once per request. More than
 * OpenSSH's 100, so a listing takes fewer round trips; what a reply cannot carry waits for the
 * next READDIR (MAX_NAME_REPLY_BYTES).
 */
export const READDIR_BATCH = 256;
/**
 * Largest READDIR reply, length field included: the packet size every client must accept
 * (draft-ietf-secsh-filexfer-02, section 3). A listing of long names (an S3 key's segment may
 * be 1024 bytes) is cut at it instead of counting entries.
 */
export const MAX_NAME_REPLY_BYTES = 34_000;
/** Requests decoded but not yet answered; past this the engine stops reading the channel. */
export const MAX_IN_FLIGHT_REQUESTS = 128;
/** Request bytes held by unanswered requests (mostly WRITE data) before reading pauses. */
export const MAX_IN_FLIGHT_BYTES = 16 * 1024 * 1024;
/** copy-data moves data in chunks of this size so one request never holds a whole file. */
export const COPY_CHUNK_LENGTH = 64 * 1024;
/**
 * Most continuing requests on one handle served together (one pwritev, or reads side by side).
 * Clients keep many requests in flight; serving them together saves a thread-pool round trip
 * per request.
 */
export const MAX_BATCH_REQUESTS = 32;
