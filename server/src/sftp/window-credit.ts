/**
 * Flow control of an SFTP session by the SSH channel window. The window is granted back only
 * for bytes whose request has completed (a WRITE on disk, its block released), so a client can
 * never have more than one window of data inside the server, however slow the disk. Granting
 * as soon as bytes left the channel let each session pile up its whole pending limit.
 */

/** The transport's side: the window the peer may still fill, and a way to grant more. */
export interface ChannelWindow {
  /** The window granted on this channel (what it was opened with). */
  readonly size: number;
  /** Stops the transport granting window on its own; called once, before any grant. */
  takeControl(): void;
  /** Bytes the peer may still send before it must wait for a grant. */
  open(): number;
  grant(bytes: number): void;
}

/**
 * Bytes the SFTP sessions of a process may hold between them. The sessions share it: each
 * session's window shrinks towards its share as it is granted back (never below what keeps a
 * client sending, see `minimumWindow`), and past it a session that still has requests running
 * waits for them before it gets window back.
 */
const PROCESS_BUDGET = 16 * 1024 * 1024;
/** Bytes received on every SFTP channel of the process and not yet dealt with. */
let processHeld = 0;
/** Sessions under window control in the process. */
let sessions = 0;

/** Bytes of all sessions received and not yet completed (for tests and metrics). */
export function heldSftpBytes(): number {
  return processHeld;
}

export class WindowCredit {
  readonly #window: ChannelWindow;
  /** Grants smaller than this wait for more, so one adjust covers several packets. */
  readonly #threshold: number;
  /** The longest packet with its length field: less open window than this may stall a client. */
  readonly #floor: number;
  readonly #minimum: number;
  #held = 0;
  #disposed = false;

  /** Returns undefined when the window is too small to hold back (see `canControl`). */
  static over(window: ChannelWindow, longestPacket: number): WindowCredit | undefined {
    if (!canControl(window.size, longestPacket)) return undefined;
    window.takeControl();
    return new WindowCredit(window, longestPacket);
  }

  private constructor(window: ChannelWindow, longestPacket: number) {
    this.#window = window;
    this.#threshold = thresholdOf(window.size);
    this.#floor = longestPacket + 4;
    this.#minimum = minimumWindow(window.size, longestPacket);
    sessions++;
  }

  /** Bytes of this session received and not yet completed. */
  get held(): number {
    return this.#held;
  }

  received(bytes: number): void {
    this.#held += bytes;
    processHeld += bytes;
  }

  /**
   * `bytes` have been dealt with (their request completed or was refused; 0 to check after
   * an arrival); `busy` says whether requests of the session are still running.
   */
  completed(bytes: number, busy: boolean): void {
    const settled = Math.min(bytes, this.#held);
    this.#held -= settled;
    processHeld -= settled;
    this.#settle(busy);
  }

  /** The session ended: its bytes no longer count against the process. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    sessions--;
    processHeld -= this.#held;
    this.#held = 0;
  }

  /**
   * Grants what was dealt with, in steps of an eighth of the window; at once when the client
   * could not send another whole packet. Every arrival and completion checks, so a client left
   * with a partial packet and too little window is always granted more.
   */
  #settle(busy: boolean): void {
    if (busy && processHeld > PROCESS_BUDGET) return;
    const open = this.#window.open();
    const share = Math.max(this.#minimum, Math.floor(PROCESS_BUDGET / Math.max(1, sessions)));
    const owed = Math.min(this.#window.size, share) - open - this.#held;
    if (owed <= 0) return;
    if (owed >= this.#threshold || open < this.#floor) this.#window.grant(owed);
  }
}

function thresholdOf(windowSize: number): number {
  return Math.max(1, Math.floor(windowSize / 8));
}

/**
 * A window holding back what is not yet dealt with must still fit a partial packet plus a
 * whole one, and a grant's worth more, or a client could wait for window that only a complete
 * packet would free.
 */
function minimumWindow(windowSize: number, longestPacket: number): number {
  return 2 * (longestPacket + 4) + thresholdOf(windowSize);
}

export function canControl(windowSize: number, longestPacket: number): boolean {
  return windowSize >= minimumWindow(windowSize, longestPacket);
}
