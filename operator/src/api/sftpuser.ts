/**
 * The SftpUser resource: one account in the database of an SftpServer. Its account fields take
 * their types, bounds and descriptions from the account schema the server, its REST API and
 * its OpenAPI document use (server/src/dataprovider/account-schema.ts), under the camelCase
 * names of Kubernetes APIs; ACCOUNT_FIELDS below is the one place the two names meet.
 */
import { Type, type Static, type TArray, type TString, type TUnsafe } from '@sinclair/typebox';
import {
  MAX_USERNAME_LENGTH,
  NewUserSchema,
} from '../../../server/src/dataprovider/account-schema.js';
import {
  cel,
  conditionList,
  count,
  localReference,
  secretKeyReference,
  stringEnum,
  type Condition,
} from './schema.js';

type AccountProperties = typeof NewUserSchema.properties;

/** A property of the account schema, with a Kubernetes-side sentence added to its description. */
function fromAccount<K extends keyof AccountProperties>(
  field: K,
  extra: { description?: string; schema?: Record<string, unknown> } = {},
): TUnsafe<Static<AccountProperties[K]>> {
  const source = JSON.parse(JSON.stringify(NewUserSchema.properties[field])) as Record<
    string,
    unknown
  >;
  const description = [source['description'], extra.description].filter(Boolean).join(' ');
  return Type.Unsafe<Static<AccountProperties[K]>>({ ...source, ...extra.schema, description });
}

/** The account property each spec field comes from (spec field → account field). */
export const ACCOUNT_FIELDS = {
  username: 'username',
  publicKeys: 'public_keys',
  permissions: 'permissions',
  maxSessions: 'max_sessions',
  'quota.files': 'quota_files',
  'quota.size': 'quota_size',
  'bandwidth.uploadKBps': 'upload_bandwidth',
  'bandwidth.downloadKBps': 'download_bandwidth',
  'filters.allowedIPs': 'filters.allowed_ip',
  'filters.deniedIPs': 'filters.denied_ip',
  suspended: 'status',
  expiration: 'expiration_date',
  'home.subPath': 'home_dir',
} as const;

/**
 * The account schema's username pattern has a look-ahead, which the API server's regular
 * expressions (RE2) lack: the same rule as a plain pattern and a CEL rule.
 */
const Username = fromAccount('username', {
  description: 'Defaults to metadata.name. Immutable.',
  schema: {
    pattern: '^[A-Za-z0-9._@-]+$',
    maxLength: MAX_USERNAME_LENGTH,
    ...cel({ rule: "self != '.' && self != '..'", message: 'username cannot be "." or ".."' }),
  },
});

const cidrs = (field: 'allowed_ip' | 'denied_ip', extra: string): TArray<TString> => {
  const source = NewUserSchema.properties.filters.properties[field];
  return Type.Array(Type.String({ maxLength: 64, description: 'A CIDR range.' }), {
    maxItems: 256,
    description: `${source.description ?? ''} ${extra}`.trim(),
    ...cel({
      rule: 'self.all(r, isCIDR(r))',
      message: 'each entry must be a CIDR range such as 192.0.2.0/24 or 2001:db8::/32',
    }),
  });
};

const PasswordSpec = Type.Object(
  {
    secretRef: Type.Optional(
      secretKeyReference(
        'A Secret holding the clear-text password, e.g. of type kubernetes.io/basic-auth. A change of the Secret is applied to the account.',
        'Key of the password in the Secret (default password).',
      ),
    ),
    generate: Type.Optional(
      Type.Boolean({
        description:
          'Generate a password into the Secret <name>-credentials, owned by this SftpUser, with the keys username, password, host, port and known_hosts. Delete the Secret to have a new password generated.',
      }),
    ),
  },
  {
    description: 'The password: from a Secret, or generated. The operator stores only a hash.',
    ...cel({
      rule: 'has(self.secretRef) != (has(self.generate) && self.generate)',
      message: 'set either secretRef or generate: true',
    }),
  },
);

const PublicKeysFrom = Type.Object(
  {
    secretKeyRef: Type.Optional(
      secretKeyReference(
        'A Secret holding OpenSSH public keys, one per line (authorized_keys lines without options).',
        'Key of the keys in the Secret (default authorized_keys).',
      ),
    ),
    configMapKeyRef: Type.Optional(
      secretKeyReference(
        'A ConfigMap holding OpenSSH public keys, one per line (authorized_keys lines without options).',
        'Key of the keys in the ConfigMap (default authorized_keys).',
        'ConfigMap',
      ),
    ),
  },
  {
    description: 'A source of public keys: a Secret or a ConfigMap.',
    ...cel({
      rule: 'has(self.secretKeyRef) != has(self.configMapKeyRef)',
      message: 'set either secretKeyRef or configMapKeyRef',
    }),
  },
);

const Quantity = Type.Unsafe<number | string>({
  'x-kubernetes-int-or-string': true,
  description: 'Bytes the home may hold, as a number or a quantity such as 10Gi; 0 unlimited.',
  ...cel({
    rule: "type(self) == int ? self >= 0 : isQuantity(self) && quantity(self).isInteger() && !quantity(self).isLessThan(quantity('0'))",
    message: 'size must be a whole number of bytes or a quantity such as 10Gi',
  }),
});

export const RECLAIM_POLICIES = ['Retain', 'Delete'] as const;
export type ReclaimPolicy = (typeof RECLAIM_POLICIES)[number];

export const SftpUserSpecSchema = Type.Object(
  {
    serverRef: localReference('The SftpServer whose database holds the account. Immutable.'),
    username: Type.Optional(Username),
    password: Type.Optional(PasswordSpec),
    publicKeys: Type.Optional(fromAccount('public_keys', { schema: { maxItems: 256 } })),
    publicKeysFrom: Type.Optional(
      Type.Array(PublicKeysFrom, {
        maxItems: 16,
        description:
          'Secrets and ConfigMaps holding more public keys; a change of one is applied to the account.',
      }),
    ),
    suspended: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'A suspended account cannot log in; its data is kept.',
      }),
    ),
    expiration: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'From this time (RFC 3339) logins are refused; unset never expires.',
      }),
    ),
    permissions: Type.Optional(
      fromAccount('permissions', {
        description: 'Default: {"/": ["*"]}.',
        schema: {
          maxProperties: 128,
          ...cel(
            { rule: "'/' in self", message: 'permissions must include "/"' },
            {
              rule: "self.all(dir, dir.startsWith('/') && !dir.contains('//') && (dir == '/' || !dir.endsWith('/')))",
              message: 'permission directories are absolute and normalized, like /uploads',
            },
          ),
        },
      }),
    ),
    quota: Type.Optional(
      Type.Object(
        {
          size: Type.Optional(Quantity),
          files: Type.Optional(fromAccount('quota_files')),
        },
        { description: 'How much the home may hold.' },
      ),
    ),
    bandwidth: Type.Optional(
      Type.Object(
        {
          uploadKBps: Type.Optional(fromAccount('upload_bandwidth')),
          downloadKBps: Type.Optional(fromAccount('download_bandwidth')),
        },
        { description: 'Transfer rate limits.' },
      ),
    ),
    maxSessions: Type.Optional(fromAccount('max_sessions')),
    filters: Type.Optional(
      Type.Object(
        {
          allowedIPs: Type.Optional(cidrs('allowed_ip', 'Empty allows any.')),
          deniedIPs: Type.Optional(cidrs('denied_ip', 'A denied range wins over an allowed one.')),
        },
        { description: 'Client addresses the account may log in from.' },
      ),
    ),
    home: Type.Optional(
      Type.Object(
        {
          subPath: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 1024,
              description:
                "The home below the server's storage, e.g. teams/alice: a directory of the claim, or the key prefix below storage.s3.keyPrefix. Defaults to the username.",
              ...cel({
                rule: "!self.startsWith('/') && !self.split('/').exists(p, p == '..' || p == '.' || p == '')",
                message: 'subPath is a relative path without ".", ".." or empty parts',
              }),
            }),
          ),
        },
        { description: 'Where the account lives on the server storage.' },
      ),
    ),
    reclaimPolicy: Type.Optional(
      stringEnum(RECLAIM_POLICIES, {
        default: 'Retain',
        description:
          'What happens to the home data when the SftpUser is deleted (the account is removed either way): Retain (default) keeps it; Delete removes it: the account is deleted and its home recorded for removal in one step, and the server pods remove the data within seconds. Until then no SftpUser can take that home (reason HomeBeingRemoved).',
      }),
    ),
  },
  {
    description: 'The desired account.',
    ...cel({
      rule: 'has(self.password) || has(self.publicKeys) || has(self.publicKeysFrom)',
      message: 'an account needs a password, publicKeys or publicKeysFrom to log in',
    }),
  },
);

export const SftpUserStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ minimum: 0, description: 'The metadata.generation this status describes.' }),
    ),
    conditions: Type.Optional(conditionList('Ready and Synced.')),
    username: Type.Optional(Type.String({ maxLength: 255, description: 'The account name.' })),
    appliedSecrets: Type.Optional(
      Type.Unsafe<Record<string, string>>({
        type: 'object',
        additionalProperties: { type: 'string' },
        description:
          'The resourceVersion of each Secret (by name) and ConfigMap (as configmap/<name>) whose contents the account holds.',
      }),
    ),
    passwordHashDigest: Type.Optional(
      Type.String({
        maxLength: 64,
        description:
          'SHA-256 of the stored password hash, so that a hash changed in the database behind the operator is noticed and reverted.',
      }),
    ),
    usage: Type.Optional(
      Type.Object(
        {
          sizeBytes: count('Bytes the home holds, as the server counted them.'),
          files: count('Files the home holds.'),
        },
        {
          description:
            'Quota usage, as read from the database; refreshed at most once a minute per user.',
        },
      ),
    ),
  },
  { description: 'What the operator observed.' },
);

export type SftpUserSpec = Static<typeof SftpUserSpecSchema>;
export type SftpUserStatus = Omit<Static<typeof SftpUserStatusSchema>, 'conditions'> & {
  conditions?: Condition[];
};
