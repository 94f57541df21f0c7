/**
 * Session events (transfer and command log lines, metrics, custom actions) leave after the
 * reply that caused them. None of them changes a reply, and a client sending one small file
 * after another waits for each reply before its next request: a log line written first is on
 * that path (about a tenth of the server's time per file). Queued here, they run in one batch
 * when the loop reaches its check phase, after the replies of the current tick are on the
 * socket and before the loop reads more requests, so their order and their timing for anyone
 * watching the log stay as before.
 */
import type { SessionEvents } from './types.js';

type Report = (err: unknown) => void;

export function afterReplies(events: SessionEvents, report: Report): SessionEvents {
  let queued: (() => void)[] = [];
  const flush = (): void => {
    const batch = queued;
    queued = [];
    for (const call of batch) {
      try {
        call();
      } catch (err) {
        report(err);
      }
    }
  };
  const later = (call: () => void): void => {
    if (queued.push(call) === 1) setImmediate(flush);
  };
  return {
    transfer: (record) => later(() => events.transfer(record)),
    command: (record) => later(() => events.command(record)),
    fileOperationCompleted:
      events.fileOperationCompleted &&
      ((event) => later(() => events.fileOperationCompleted?.(event))),
    sshCommandCompleted:
      events.sshCommandCompleted && ((event) => later(() => events.sshCommandCompleted?.(event))),
  };
}
