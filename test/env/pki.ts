/**
 * Throwaway PKI for one API server: a CA, a serving certificate for 127.0.0.1 signed by it,
 * and the key pair that signs service-account tokens. Node cannot issue X.509 certificates,
 * so the openssl command line does that part.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';

const run = promisify(execFile);

export interface ApiServerPki {
  caCertPath: string;
  servingCertPath: string;
  servingKeyPath: string;
  serviceAccountPublicKeyPath: string;
  serviceAccountPrivateKeyPath: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr ?? String(err);
    throw new KubesftpError(ErrorCode.FAILURE, `openssl ${args[0]} failed: ${detail}`, {
      cause: err,
    });
  }
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export async function createApiServerPki(dir: string): Promise<ApiServerPki> {
  await openssl(
    [
      'req',
      '-x509',
      ...ecKey,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=kubesftp-testbed-ca',
    ].concat([
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]),
    dir,
  );
  await openssl(
    [
      'req',
      '-new',
      ...ecKey,
      '-keyout',
      'serving.key',
      '-out',
      'serving.csr',
      '-subj',
      '/CN=kube-apiserver',
    ],
    dir,
  );
  await writeFile(
    join(dir, 'serving.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'serving.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
    ].concat(['-out', 'serving.crt', '-days', '2', '-extfile', 'serving.ext']),
    dir,
  );
  const serviceAccount = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(
    join(dir, 'sa.pub'),
    serviceAccount.publicKey.export({ type: 'spki', format: 'pem' }),
  );
  await writeFile(
    join(dir, 'sa.key'),
    serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    {
      mode: 0o600,
    },
  );
  return {
    caCertPath: join(dir, 'ca.crt'),
    servingCertPath: join(dir, 'serving.crt'),
    servingKeyPath: join(dir, 'serving.key'),
    serviceAccountPublicKeyPath: join(dir, 'sa.pub'),
    serviceAccountPrivateKeyPath: join(dir, 'sa.key'),
  };
}
