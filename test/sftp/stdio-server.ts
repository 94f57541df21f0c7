/**
 * Serves the SFTP engine over stdin/stdout with an in-memory home, so the real OpenSSH client can
 * drive it without sshd: `sftp -D "node dist/test/sftp/stdio-server.js"`. Log lines go to the file
 * named by KUBESFTP_TEST_SFTP_LOG (JSON lines), or nowhere.
 */
import { appendFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { serveSftp, type SftpLogger } from '../../server/src/sftp/engine.js';
import { MemoryVfs } from '../../server/src/vfs/memory.js';

function fileLogger(path: string | undefined): SftpLogger {
  const write =
    (level: string) =>
    (fields: object, message: string): void => {
      if (path !== undefined)
        appendFileSync(path, `${JSON.stringify({ level, message, ...fields })}\n`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

const stream = Duplex.from({ readable: process.stdin, writable: process.stdout });
const session = serveSftp({
  stream,
  vfs: new MemoryVfs({ uid: process.getuid?.() ?? 1000, gid: process.getgid?.() ?? 1000 }),
  logger: fileLogger(process.env['KUBESFTP_TEST_SFTP_LOG']),
  names: { userName: () => 'tester', groupName: () => 'testers' },
});
await session.closed;
process.exit(0);
