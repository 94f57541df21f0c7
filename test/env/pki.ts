/**
 * Throwaway PKI for one API server: a CA, a serving certificate for its addresses signed by
 * it, client certificates (the API server's own, to reach kubelets), and the key pair that
 * signs service-account tokens. Node cannot issue X.509 certificates,
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

export interface ServingNames {
  /** Addresses clients dial: 127.0.0.1, and on a node bed the bridge and Service addresses. */
  ips: string[];
  dnsNames: string[];
}

const loopbackOnly: ServingNames = { ips: ['127.0.0.1'], dnsNames: ['localhost'] };

export async function createApiServerPki(
  dir: string,
  names: ServingNames = loopbackOnly,
): Promise<ApiServerPki> {
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
    `subjectAltName=${subjectAltNames(names)}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`,
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

function subjectAltNames(names: ServingNames): string {
  return [...names.ips.map((ip) => `IP:${ip}`), ...names.dnsNames.map((dns) => `DNS:${dns}`)].join(
    ',',
  );
}

/**
 * A client certificate signed by the bed's CA, as `<name>.crt` and `<name>.key` in dir.
 * Kubernetes reads the user from the CN and the groups from the O entries.
 */
export async function createClientCertificate(
  dir: string,
  name: string,
  subject: { user: string; groups: string[] },
): Promise<{ certPath: string; keyPath: string }> {
  const organisations = subject.groups.map((group) => `/O=${group}`).join('');
  await openssl(
    ['req', '-new', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`].concat([
      '-subj',
      `${organisations}/CN=${subject.user}`,
    ]),
    dir,
  );
  await writeFile(
    join(dir, `${name}.ext`),
    'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n',
  );
  await openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key'].concat([
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]),
    dir,
  );
  return { certPath: join(dir, `${name}.crt`), keyPath: join(dir, `${name}.key`) };
}
