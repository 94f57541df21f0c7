/**
 * The parts of ssh2 a server uses, each loaded from its own file. The package's index also
 * loads its client, agents and HTTP agents (and with them tls, https and dns), which a server
 * never runs and an idle one would keep in memory.
 */
import { createRequire } from 'node:module';
import type ssh2 from 'ssh2';

const require = createRequire(import.meta.url);

export const Server = require('ssh2/lib/server.js') as typeof ssh2.Server;
export type Server = ssh2.Server;

export const { parseKey } = require('ssh2/lib/protocol/keyParser.js') as {
  parseKey: typeof ssh2.utils.parseKey;
};

export const { generateKeyPair } = require('ssh2/lib/keygen.js') as {
  generateKeyPair: typeof ssh2.utils.generateKeyPair;
};
