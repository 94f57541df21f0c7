// The real OpenSSH client logs in with RSA (both SHA-2 signature algorithms), ed25519 and
// ECDSA user keys. OpenSSH only signs with an RSA algorithm the server lists in the
// server-sig-algs extension, so this needs a well-formed EXT_INFO from the server.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import type { AuthContext, ParsedKey } from 'ssh2';
import { runCommand, sshBaseArgs, startServer, TEST_USER, type RunningServer } from './helpers.js';

interface UserKey {
  name: string;
  keygenArgs: string[];
  /** The signature algorithm OpenSSH is restricted to for this key. */
  algorithm: string;
  /** How ssh2 reports that signature: key type, plus the hash for RSA. */
  signedAs: string;
}

const userKeys: UserKey[] = [
  {
    name: 'rsa512',
    keygenArgs: ['-t', 'rsa', '-b', '3072'],
    algorithm: 'rsa-sha2-512',
    signedAs: 'ssh-rsa/sha512',
  },
  {
    name: 'rsa256',
    keygenArgs: ['-t', 'rsa', '-b', '3072'],
    algorithm: 'rsa-sha2-256',
    signedAs: 'ssh-rsa/sha256',
  },
  {
    name: 'ed25519',
    keygenArgs: ['-t', 'ed25519'],
    algorithm: 'ssh-ed25519',
    signedAs: 'ssh-ed25519',
  },
  {
    name: 'ecdsa256',
    keygenArgs: ['-t', 'ecdsa', '-b', '256'],
    algorithm: 'ecdsa-sha2-nistp256',
    signedAs: 'ecdsa-sha2-nistp256',
  },
  {
    name: 'ecdsa521',
    keygenArgs: ['-t', 'ecdsa', '-b', '521'],
    algorithm: 'ecdsa-sha2-nistp521',
    signedAs: 'ecdsa-sha2-nistp521',
  },
];

describe('OpenSSH client public-key login', () => {
  let dir: string;
  let running: RunningServer;
  const authorized: ParsedKey[] = [];
  const signatureAlgorithms: string[] = [];

  const acceptKnownKey = (ctx: AuthContext): boolean => {
    if (ctx.method !== 'publickey') return false;
    const known = authorized.find((key) => key.getPublicSSH().equals(ctx.key.data));
    if (!known) return false;
    // Without a signature the client only asks whether the key would do.
    if (!ctx.signature || !ctx.blob) return true;
    const hash = ctx.key.algo === 'ssh-rsa' ? `/${ctx.hashAlgo ?? 'sha1'}` : '';
    signatureAlgorithms.push(`${ctx.key.algo}${hash}`);
    return known.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kubesftp-pubkey-'));
    for (const key of userKeys) {
      const file = path.join(dir, key.name);
      const made = await runCommand('ssh-keygen', ['-q', ...key.keygenArgs, '-N', '', '-f', file]);
      assert.equal(made.code, 0, made.stderr);
      const parsed = ssh2.utils.parseKey(await readFile(`${file}.pub`));
      if (parsed instanceof Error) throw parsed;
      authorized.push(parsed);
    }
    running = await startServer({
      onAuth: acceptKnownKey,
      onReady: (client) => {
        client.on('session', (acceptSession) => {
          acceptSession().on('exec', (acceptExec, _reject, info) => {
            const stream = acceptExec();
            stream.write(`ran ${info.command}\n`);
            stream.exit(0);
            stream.end();
          });
        });
      },
    });
  });
  after(async () => {
    await running.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const key of userKeys) {
    it(`logs in with a ${key.name} key signing with ${key.algorithm}`, async () => {
      const result = await runCommand('ssh', [
        ...sshBaseArgs(running.port),
        '-o',
        'PreferredAuthentications=publickey',
        '-o',
        `PubkeyAcceptedAlgorithms=${key.algorithm}`,
        '-i',
        path.join(dir, key.name),
        `${TEST_USER}@127.0.0.1`,
        'whoami',
      ]);
      assert.equal(result.code, 0, `ssh failed: ${result.stderr}`);
      assert.equal(result.stdout, 'ran whoami\n');
      assert.equal(signatureAlgorithms.at(-1), key.signedAs);
    });
  }
});
