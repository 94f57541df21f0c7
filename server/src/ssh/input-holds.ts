/**
 * Counted holds on reading one connection's socket: every SFTP session on the connection may
 * hold it (sftp/engine.ts), and it reads again once none does. While held, what the client sends
 * waits in the kernel's socket buffer and TCP's window slows the client down.
 */
import type { Socket } from 'node:net';
import type { InputHold } from '../sftp/engine.js';

export class InputHolds implements InputHold {
  readonly #socket: Socket | undefined;
  #holds = 0;

  constructor(socket: Socket | undefined) {
    this.#socket = socket;
  }

  get held(): boolean {
    return this.#holds > 0;
  }

  hold(): void {
    this.#holds += 1;
    if (this.#holds === 1) this.#socket?.pause();
  }

  release(): void {
    if (this.#holds === 0) return;
    this.#holds -= 1;
    if (this.#holds === 0) this.#socket?.resume();
  }
}
