/** The SSH identification line a server sends first: which server (and config) answers. */
import { connect } from 'node:net';

export function sshIdent(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: 5_000 });
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n');
      if (end >= 0) {
        socket.destroy();
        resolve(received.slice(0, end));
      }
    });
    socket.once('timeout', () => socket.destroy(new Error(`${host}:${port}: no SSH ident`)));
    socket.once('error', reject);
  });
}
