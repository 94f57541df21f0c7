/**
 * `kubesftp operator` flags, each with the environment variable that applies when the flag is
 * not given (the chart sets the variables). Pure: the CLI builds its options from this table
 * without loading the operator.
 */
import { InvalidArgumentError } from 'commander';
import { parseBool, parseNonNegativeInt, type ServeFlag } from '../../server/src/cli/options.js';

export interface OperatorCommandOptions {
  kubeconfig: string;
  namespace: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  /** host:port, or "0" for no endpoint. */
  metricsBindAddress: string;
  defaultImage: string;
  resyncPeriod: number;
  userWorkers: number;
  passwordHashIterations: number;
  deletionTimeout: number;
  logVerbose: boolean;
}

function parsePositiveInt(raw: string): number {
  const value = parseNonNegativeInt(raw);
  if (value < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return value;
}

export const OPERATOR_FLAGS: readonly ServeFlag[] = [
  {
    flags: '--kubeconfig <path>',
    attribute: 'kubeconfig',
    env: 'KUBECONFIG',
    description: 'kubeconfig file; empty uses the in-cluster service account or ~/.kube/config',
    defaultValue: '',
  },
  {
    flags: '--namespace <name>',
    attribute: 'namespace',
    env: 'KUBESFTP_OPERATOR_NAMESPACE',
    description: 'watch only this namespace; empty watches all',
    defaultValue: '',
  },
  {
    flags: '--leader-elect [bool]',
    attribute: 'leaderElect',
    env: 'KUBESFTP_OPERATOR_LEADER_ELECT',
    description: 'hold a Lease so that only one of several replicas works (1, true, 0, false)',
    defaultValue: false,
    parse: parseBool,
  },
  {
    flags: '--leader-election-namespace <name>',
    attribute: 'leaderElectionNamespace',
    env: 'KUBESFTP_OPERATOR_LEADER_ELECTION_NAMESPACE',
    description: "namespace of the Lease; empty takes the pod's own",
    defaultValue: '',
  },
  {
    flags: '--metrics-bind-address <host:port>',
    attribute: 'metricsBindAddress',
    env: 'KUBESFTP_OPERATOR_METRICS_BIND_ADDRESS',
    description: '/metrics, /healthz and /readyz; "0" serves none',
    defaultValue: '0.0.0.0:8080',
  },
  {
    flags: '--default-image <image>',
    attribute: 'defaultImage',
    env: 'KUBESFTP_OPERATOR_DEFAULT_IMAGE',
    description: 'image of server pods when an SftpServer names none (required)',
    defaultValue: '',
  },
  {
    flags: '--resync-period <seconds>',
    attribute: 'resyncPeriod',
    env: 'KUBESFTP_OPERATOR_RESYNC_PERIOD',
    description: 'every resource is reconciled again this often, reverting drift',
    defaultValue: 300,
    parse: parsePositiveInt,
  },
  {
    flags: '--user-workers <count>',
    attribute: 'userWorkers',
    env: 'KUBESFTP_OPERATOR_USER_WORKERS',
    description:
      'SftpUsers reconciled at once (each mostly waits on the API server and the database)',
    defaultValue: 16,
    parse: parsePositiveInt,
  },
  {
    flags: '--password-hash-iterations <count>',
    attribute: 'passwordHashIterations',
    env: 'KUBESFTP_OPERATOR_PASSWORD_HASH_ITERATIONS',
    description: 'PBKDF2-SHA256 iterations of stored password hashes',
    defaultValue: 600_000,
    parse: parsePositiveInt,
  },
  {
    flags: '--deletion-timeout <seconds>',
    attribute: 'deletionTimeout',
    env: 'KUBESFTP_OPERATOR_DELETION_TIMEOUT',
    description:
      'how long a deleted SftpUser waits for an unreachable database before its finalizer is dropped',
    defaultValue: 300,
    parse: parseNonNegativeInt,
  },
  {
    flags: '--log-verbose [bool]',
    attribute: 'logVerbose',
    env: 'KUBESFTP_OPERATOR_LOG_VERBOSE',
    description: 'include debug lines (1, true, 0, false)',
    defaultValue: false,
    parse: parseBool,
  },
];

export function toOperatorCommandOptions(
  values: Record<string, string | number | boolean>,
): OperatorCommandOptions {
  return {
    kubeconfig: String(values['kubeconfig']),
    namespace: String(values['namespace']),
    leaderElect: values['leaderElect'] === true,
    leaderElectionNamespace: String(values['leaderElectionNamespace']),
    metricsBindAddress: String(values['metricsBindAddress']),
    defaultImage: String(values['defaultImage']),
    resyncPeriod: Number(values['resyncPeriod']),
    userWorkers: Number(values['userWorkers']),
    passwordHashIterations: Number(values['passwordHashIterations']),
    deletionTimeout: Number(values['deletionTimeout']),
    logVerbose: values['logVerbose'] === true,
  };
}
