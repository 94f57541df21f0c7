/**
 * ssh2 writes every SSH packet to the socket on its own, so a 256 KiB SFTP reply leaves as
 * eight 32 KiB packets and eight system calls. Holding the socket corked until the current
 * tick ends sends everything written in that tick with one writev instead.
 */
import type { Socket } from 'node:net';

export function coalesceWrites(socket: Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = (...args: unknown[]): boolean => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  };
}
