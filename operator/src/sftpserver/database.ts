/**
 * The database Secret of a server, read the way a CloudNativePG app Secret is written: a `uri`
 * key, or host, port, dbname, username (or user) and password keys. The same reading gives the
 * pod's environment (each variable from its Secret key, so the value never enters the
 * Deployment) and the operator's own connection settings.
 */
import type { NetworkOptions, SslMode } from '../../../server/src/dataprovider/network-options.js';
import { ServerReason } from '../api/conditions.js';
import { secretValue, type Secret } from '../api/objects.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}

export interface DatabaseSettings {
  ok: true;
  secretName: string;
  resourceVersion: string;
  /** The pod's environment: config keys from Secret keys. */
  env: EnvVar[];
  /** How the operator itself connects. */
  network: NetworkOptions;
}

export interface DatabaseProblem {
  ok: false;
  reason: ServerReason;
  message: string;
}

const ENV = {
  uri: 'KUBESFTP_DATA_PROVIDER__CONNECTION_STRING',
  host: 'KUBESFTP_DATA_PROVIDER__HOST',
  port: 'KUBESFTP_DATA_PROVIDER__PORT',
  dbname: 'KUBESFTP_DATA_PROVIDER__NAME',
  username: 'KUBESFTP_DATA_PROVIDER__USERNAME',
  password: 'KUBESFTP_DATA_PROVIDER__PASSWORD',
} as const;

const fromSecret = (envName: string, secret: string, key: string): EnvVar => ({
  name: envName,
  valueFrom: { secretKeyRef: { name: secret, key } },
});

function problem(reason: ServerReason, message: string): DatabaseProblem {
  return { ok: false, reason, message };
}

function fieldSettings(
  secret: Secret,
  name: string,
  sslmode: SslMode,
): DatabaseSettings | DatabaseProblem {
  const userKey = secretValue(secret, 'username') !== undefined ? 'username' : 'user';
  const missing = ['host', 'dbname', userKey, 'password'].filter(
    (key) => !secretValue(secret, key),
  );
  if (missing.length > 0) {
    return problem(
      ServerReason.DatabaseSecretInvalid,
      `Secret ${name} has neither a uri key nor ${missing.join(', ')}`,
    );
  }
  const portText = secretValue(secret, 'port');
  const port = portText === undefined ? 5432 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return problem(ServerReason.DatabaseSecretInvalid, `Secret ${name}: port is not a port number`);
  }
  const env = [
    fromSecret(ENV.host, name, 'host'),
    ...(portText === undefined ? [] : [fromSecret(ENV.port, name, 'port')]),
    fromSecret(ENV.dbname, name, 'dbname'),
    fromSecret(ENV.username, name, userKey),
    fromSecret(ENV.password, name, 'password'),
  ];
  const network: NetworkOptions = {
    host: secretValue(secret, 'host') ?? '',
    port,
    database: secretValue(secret, 'dbname') ?? '',
    username: secretValue(secret, userKey) ?? '',
    password: secretValue(secret, 'password') ?? '',
    sslmode,
    connectionString: '',
    poolSize: 4,
  };
  return {
    ok: true,
    secretName: name,
    resourceVersion: secret.metadata.resourceVersion ?? '',
    env,
    network,
  };
}

/** The settings in `secret`, or why they cannot be used. */
export function databaseSettings(options: {
  secret: Secret | undefined;
  secretName: string;
  sslmode: SslMode;
}): DatabaseSettings | DatabaseProblem {
  const { secret, secretName: name } = options;
  if (secret === undefined) {
    return problem(ServerReason.DatabaseSecretMissing, `database Secret ${name} not found`);
  }
  const uri = secretValue(secret, 'uri');
  if (uri === undefined || uri === '') return fieldSettings(secret, name, options.sslmode);
  if (!/^postgres(ql)?:\/\//.test(uri)) {
    return problem(
      ServerReason.DatabaseSecretInvalid,
      `Secret ${name}: uri is not a postgresql:// URL`,
    );
  }
  return {
    ok: true,
    secretName: name,
    resourceVersion: secret.metadata.resourceVersion ?? '',
    env: [fromSecret(ENV.uri, name, 'uri')],
    network: {
      host: '',
      port: 5432,
      database: '',
      username: '',
      password: '',
      sslmode: options.sslmode,
      connectionString: uri,
      poolSize: 4,
    },
  };
}
