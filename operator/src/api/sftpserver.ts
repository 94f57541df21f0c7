/**
 * The SftpServer resource: one SFTP service of stateless pods on a shared PostgreSQL. The
 * schema is the single source of the CRD (crd/crds.ts), of `kubectl explain` and of the types
 * the reconciler reads.
 */
import { Type, type Static, type TArray, type TString } from '@sinclair/typebox';
import {
  cel,
  conditionList,
  count,
  localReference,
  objectName,
  passedThrough,
  secretKeyReference,
  stringEnum,
  stringMap,
  type Condition,
} from './schema.js';
import { serverConfigSchema } from './server-config.js';

export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

export const DEFAULT_SERVICE_PORT = 22;

const cidrList = (description: string): TArray<TString> =>
  Type.Array(Type.String({ maxLength: 64, description: 'A CIDR range, e.g. 192.0.2.0/24.' }), {
    maxItems: 128,
    description,
    ...cel({
      rule: 'self.all(r, isCIDR(r))',
      message: 'each entry must be a CIDR range such as 192.0.2.0/24',
    }),
  });

const ServiceSpec = Type.Object(
  {
    type: Type.Optional(
      stringEnum(SERVICE_TYPES, {
        default: 'ClusterIP',
        description: 'Service type: ClusterIP (default), NodePort or LoadBalancer.',
      }),
    ),
    port: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        default: DEFAULT_SERVICE_PORT,
        description: 'Port clients connect to (default 22); the pods listen on 2022.',
      }),
    ),
    nodePort: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        description:
          'Node port for NodePort and LoadBalancer Services; the cluster picks one when unset.',
      }),
    ),
    annotations: Type.Optional(
      stringMap('Annotations of the Service, e.g. for a cloud load balancer.'),
    ),
    loadBalancerSourceRanges: Type.Optional(
      cidrList('Client ranges a LoadBalancer Service admits; empty admits any.'),
    ),
    externalTrafficPolicy: Type.Optional(
      stringEnum(['Cluster', 'Local'] as const, {
        description:
          'Local keeps the client address visible to the server (IP filters, the defender) for NodePort and LoadBalancer Services.',
      }),
    ),
  },
  {
    description: 'The Service clients connect to.',
    ...cel(
      {
        rule: "!has(self.loadBalancerSourceRanges) || self.type == 'LoadBalancer'",
        message: 'loadBalancerSourceRanges needs type LoadBalancer',
      },
      {
        rule: "!has(self.nodePort) || self.type != 'ClusterIP'",
        message: 'nodePort needs type NodePort or LoadBalancer',
      },
      {
        rule: "!has(self.externalTrafficPolicy) || self.type != 'ClusterIP'",
        message: 'externalTrafficPolicy needs type NodePort or LoadBalancer',
      },
    ),
  },
);

const PersistentVolumeClaimStorage = Type.Object(
  {
    claimName: Type.Optional(
      objectName('An existing ReadWriteMany claim to mount; the operator leaves it as it is.'),
    ),
    size: Type.Optional(
      Type.String({
        maxLength: 64,
        description:
          'Size of a ReadWriteMany claim the operator creates, named <server>-homes, e.g. 100Gi. The claim is not deleted with the SftpServer.',
        ...cel({ rule: 'isQuantity(self)', message: 'size must be a quantity such as 100Gi' }),
      }),
    ),
    storageClassName: Type.Optional(
      objectName(
        'Storage class of the claim the operator creates; the cluster default when unset.',
      ),
    ),
  },
  {
    description: 'Homes on a shared volume: every pod mounts the same claim at /srv/sftp.',
    ...cel(
      {
        rule: 'has(self.claimName) != has(self.size)',
        message: 'set claimName to use an existing claim, or size to have one created, not both',
      },
      {
        rule: '!has(self.storageClassName) || has(self.size)',
        message: 'storageClassName applies only to a claim the operator creates (size)',
      },
    ),
  },
);

/** Keys of the S3 credentials Secret. */
export const S3_CREDENTIAL_KEYS = {
  accessKeyId: 'access_key_id',
  secretAccessKey: 'secret_access_key',
} as const;

export const DEFAULT_S3_REGION = 'us-east-1';

const S3Storage = Type.Object(
  {
    bucket: Type.String({
      minLength: 3,
      maxLength: 63,
      description: 'Bucket holding the homes; it must exist.',
    }),
    endpoint: Type.Optional(
      Type.String({
        maxLength: 2048,
        description:
          'URL of an S3-compatible service (http:// or https://), e.g. http://minio.storage:9000; unset for AWS S3.',
        ...cel({
          rule: "self.matches('^https?://[^\\\\s/]+')",
          message: 'endpoint must be an http:// or https:// URL',
        }),
      }),
    ),
    region: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        default: DEFAULT_S3_REGION,
        description: `Region of the bucket (default ${DEFAULT_S3_REGION}, which MinIO accepts).`,
      }),
    ),
    forcePathStyle: Type.Optional(
      Type.Boolean({
        description:
          'Path-style addressing (endpoint/bucket/key), as MinIO and most S3-compatible services need; unset uses virtual-hosted style (bucket.endpoint/key).',
      }),
    ),
    keyPrefix: Type.Optional(
      Type.String({
        maxLength: 1024,
        description:
          'Prefix in the bucket under which the homes are kept, e.g. sftp/; a home is <keyPrefix><home.subPath or username>/.',
        ...cel({
          rule: "!self.startsWith('/') && !self.split('/').exists(p, p == '..' || p == '.')",
          message: 'keyPrefix is a relative prefix without "." or ".." parts',
        }),
      }),
    ),
    credentialsSecretRef: Type.Optional(
      localReference(
        `Secret with the keys ${S3_CREDENTIAL_KEYS.accessKeyId} and ${S3_CREDENTIAL_KEYS.secretAccessKey}, given to the pods as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; a change rolls the pods. Unset, the pods find credentials as AWS SDKs do (web identity, instance role). The keys are never written to the database.`,
      ),
    ),
  },
  {
    description:
      'Homes in an S3 bucket: every account of the server is an S3 home under its own prefix, and the pods mount no homes volume.',
  },
);

const StorageSpec = Type.Object(
  {
    persistentVolumeClaim: Type.Optional(PersistentVolumeClaimStorage),
    s3: Type.Optional(S3Storage),
  },
  {
    description: 'Where the homes live: a shared volume or an S3 bucket, exactly one.',
    ...cel({
      rule: 'has(self.persistentVolumeClaim) != has(self.s3)',
      message: 'set exactly one of persistentVolumeClaim and s3',
    }),
  },
);

const DatabaseSpec = Type.Object(
  {
    secretRef: localReference(
      'Secret with the PostgreSQL credentials: the key uri (postgresql://user:password@host:port/db, as in the app Secret of a CloudNativePG Cluster), or the keys host, port (optional), dbname, username (or user) and password.',
    ),
  },
  { description: 'The PostgreSQL database holding the accounts, shared by every pod.' },
);

const HostKeysSpec = Type.Object(
  {
    secretRef: Type.Optional(
      localReference(
        'A Secret you provide with OpenSSH private keys under ssh_host_ed25519_key, ssh_host_ecdsa_key and/or ssh_host_rsa_key. When unset, the operator generates <server>-host-keys once and never rotates it.',
      ),
    ),
  },
  { description: 'The SSH host keys clients pin in known_hosts.' },
);

export const DEFAULT_MASTER_KEY_KEY = 'master_key';

const MasterKeySpec = Type.Object(
  {
    secretRef: Type.Optional(
      secretKeyReference(
        'A Secret you provide holding the master key (at least 16 characters). When unset, the operator generates <server>-master-key once and never rotates it.',
        `Key of the master key in the Secret (default ${DEFAULT_MASTER_KEY_KEY}).`,
      ),
    ),
  },
  {
    description:
      'The key that seals account secrets (the S3 access_secret of accounts created through the REST API) in the database; mounted into the pods as secrets.master_key_file. Changing it makes secrets sealed with the old key unreadable.',
  },
);

const ServiceMonitorSpec = Type.Object(
  {
    enabled: Type.Boolean({
      description:
        'Create a Prometheus Operator ServiceMonitor for /metrics; ignored (with an Event) when its CRD is not installed.',
    }),
    interval: Type.Optional(
      Type.String({
        maxLength: 16,
        pattern: '^[0-9]+(ms|s|m|h)$',
        description: 'Scrape interval, e.g. 30s.',
      }),
    ),
    labels: Type.Optional(stringMap('Labels of the ServiceMonitor, for a Prometheus selector.')),
  },
  { description: 'A ServiceMonitor for the pods metrics.' },
);

const PodDisruptionBudgetSpec = Type.Object(
  {
    enabled: Type.Optional(
      Type.Boolean({ default: true, description: 'Create a PodDisruptionBudget (default true).' }),
    ),
    maxUnavailable: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 1,
        description: 'Pods a voluntary disruption may take at once (default 1).',
      }),
    ),
  },
  { description: 'Limits voluntary disruptions (node drains) of the pods.' },
);

const NetworkPolicySpec = Type.Object(
  {
    enabled: Type.Boolean({
      description: 'Create a NetworkPolicy admitting only the traffic below to the pods.',
    }),
    sftpFrom: Type.Optional(
      Type.Array(passedThrough('A NetworkPolicyPeer.'), {
        maxItems: 64,
        description: 'Peers admitted to the SFTP port; when unset, any source.',
      }),
    ),
    httpFrom: Type.Optional(
      Type.Array(passedThrough('A NetworkPolicyPeer.'), {
        maxItems: 64,
        description:
          'Peers admitted to the HTTP port (REST API, /metrics, /healthz); when unset, none (the kubelet probes still reach it).',
      }),
    ),
  },
  { description: 'An ingress NetworkPolicy for the pods.' },
);

export const SftpServerSpecSchema = Type.Object(
  {
    replicas: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1000,
        default: 1,
        description: 'Pods serving SFTP; any number share the accounts (default 1).',
      }),
    ),
    image: Type.Optional(
      Type.String({
        maxLength: 1024,
        description: 'kubesftp image of the pods; the operator default (its own image) when unset.',
      }),
    ),
    imagePullPolicy: Type.Optional(
      stringEnum(['Always', 'IfNotPresent', 'Never'] as const, {
        description: 'Pull policy of the image.',
      }),
    ),
    imagePullSecrets: Type.Optional(
      Type.Array(localReference('A Secret of type kubernetes.io/dockerconfigjson.'), {
        maxItems: 16,
        description: 'Secrets to pull the image with.',
      }),
    ),
    service: Type.Optional(ServiceSpec),
    config: Type.Optional(serverConfigSchema()),
    database: DatabaseSpec,
    storage: StorageSpec,
    hostKeys: Type.Optional(HostKeysSpec),
    masterKey: Type.Optional(MasterKeySpec),
    resources: Type.Optional(passedThrough('Compute resources of the server container.')),
    nodeSelector: Type.Optional(stringMap('Node labels the pods must match.')),
    tolerations: Type.Optional(
      Type.Array(passedThrough('A toleration.'), {
        maxItems: 64,
        description: 'Tolerations of the pods.',
      }),
    ),
    affinity: Type.Optional(passedThrough('Affinity rules of the pods.')),
    topologySpreadConstraints: Type.Optional(
      Type.Array(passedThrough('A topology spread constraint.'), {
        maxItems: 16,
        description: 'How the pods spread over zones and nodes.',
      }),
    ),
    podAnnotations: Type.Optional(stringMap('Annotations added to the pods.')),
    podDisruptionBudget: Type.Optional(PodDisruptionBudgetSpec),
    metrics: Type.Optional(
      Type.Object(
        { serviceMonitor: Type.Optional(ServiceMonitorSpec) },
        { description: 'Prometheus scraping of the pods.' },
      ),
    ),
    networkPolicy: Type.Optional(NetworkPolicySpec),
  },
  { description: 'The desired SFTP service.' },
);

export const HostKeyStatusSchema = Type.Object(
  {
    type: Type.String({ maxLength: 64, description: 'SSH key type, e.g. ssh-ed25519.' }),
    fingerprint: Type.String({
      maxLength: 128,
      description: 'SHA256 fingerprint, as ssh-keygen -l prints it.',
    }),
    publicKey: Type.String({
      maxLength: 4096,
      description: 'The public key as a known_hosts entry takes it (type and base64).',
    }),
  },
  { description: 'A host key of the server.' },
);

export const SftpServerStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ minimum: 0, description: 'The metadata.generation this status describes.' }),
    ),
    conditions: Type.Optional(conditionList('Ready, Progressing and Degraded.')),
    replicas: Type.Optional(count('Pods of the current Deployment.')),
    readyReplicas: Type.Optional(count('Pods ready to serve.')),
    service: Type.Optional(
      Type.Object(
        {
          name: Type.String({ maxLength: 253, description: 'Name of the Service.' }),
          address: Type.Optional(
            Type.String({
              maxLength: 253,
              description:
                'Where clients connect: the load balancer address when there is one, else the cluster DNS name.',
            }),
          ),
          port: Type.Optional(count('Port of the Service.')),
          nodePort: Type.Optional(count('Node port, for NodePort and LoadBalancer Services.')),
        },
        { description: 'How clients reach the server.' },
      ),
    ),
    hostKeys: Type.Optional(
      Type.Array(HostKeyStatusSchema, {
        maxItems: 8,
        description: 'The host keys, for known_hosts.',
      }),
    ),
  },
  { description: 'What the operator observed.' },
);

export type SftpServerSpec = Static<typeof SftpServerSpecSchema>;
export type SftpServerStatus = Omit<Static<typeof SftpServerStatusSchema>, 'conditions'> & {
  conditions?: Condition[];
};
export type HostKeyStatus = Static<typeof HostKeyStatusSchema>;
