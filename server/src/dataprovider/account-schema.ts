/**
 * The account, written once. The TypeScript types, the provider's structural checks, the REST
 * request and reply schemas and the OpenAPI document all derive from these TypeBox schemas;
 * the SftpUser CRD will too. Pure data: importing this pulls in no native module.
 *
 * Field names are the SFTPGo account properties, so exported users move between the two.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  FsProvider,
  MAX_MANAGED_BY_LENGTH,
  MAX_USERNAME_LENGTH,
  PERMISSIONS,
  USERNAME_PATTERN,
  type Permission,
} from './account-constants.js';

export * from './account-constants.js';

/** The names users and admins may have. */
export const Username = Type.String({
  minLength: 1,
  maxLength: MAX_USERNAME_LENGTH,
  pattern: USERNAME_PATTERN,
  description: 'Letters, digits, ".", "_", "@" and "-"; not "." or "..".',
});

/** Whole numbers the SQL drivers store in 64-bit columns without loss. */
function count(description?: string): ReturnType<typeof Type.Integer> {
  return Type.Integer({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    ...(description === undefined ? {} : { description }),
  });
}

/** Where the rate holds matters to whoever sets it: rsync and git escape it. */
const BANDWIDTH =
  'KB/s (1024 bytes) for each connection, shared by its SFTP, scp and checksum transfers; ' +
  'rsync and git are not limited. 0 unlimited.';

const unixId = Type.Integer({ minimum: 0, maximum: 2147483647 });

/** An enum as one `enum` keyword, so a bad value gets one error listing the allowed ones. */
function intEnum<T extends number>(
  values: readonly T[],
  description: string,
): TSchema & {
  static: T;
} {
  return Type.Unsafe<T>({ type: 'integer', enum: [...values], description });
}

export const Status = intEnum([0, 1] as const, '1 active, 0 disabled.');

const PermissionList = Type.Array(
  Type.Unsafe<Permission>({ type: 'string', enum: [...PERMISSIONS] }),
  { minItems: 1 },
);

/** additionalProperties rather than TypeBox's Record, whose patternProperties OpenAPI 3.0 lacks. */
const Permissions = Type.Unsafe<Record<string, Permission[]>>({
  type: 'object',
  description:
    'Virtual directory ("/" or "/sub/dir") to the permissions granted there; "/" is required.',
  additionalProperties: PermissionList,
});

const CidrList = Type.Array(Type.String({ minLength: 1 }), {
  description: 'CIDR ranges such as 192.0.2.0/24 or 2001:db8::/32.',
});

const filterFields = {
  /** Ranges allowed to log in; empty means any. */
  allowed_ip: CidrList,
  /** Ranges refused; denial wins over allowal. */
  denied_ip: CidrList,
};

const s3Fields = {
  bucket: Type.String({ description: 'The bucket; it must exist.' }),
  region: Type.String(),
  access_key: Type.String(),
  endpoint: Type.String({
    description: 'URL of an S3-compatible server (http:// or https://); empty for AWS.',
  }),
  storage_class: Type.String({ description: "Empty keeps the bucket's default." }),
  key_prefix: Type.String({
    description:
      'The home inside the bucket, such as "tenants/alice/"; empty serves the whole bucket. No "." or ".." segments.',
  }),
  upload_part_size: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 5120,
      description:
        'MiB per part of a multipart upload (5 to 5120); 0 means 8. An upload holds at most (upload_concurrency + 2) parts in memory, never on disk.',
    }),
  ),
  upload_concurrency: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 64,
      description: 'Parts of one upload sent at once; 0 means 4.',
    }),
  ),
  download_part_size: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 5120,
      description: 'MiB per ranged GET of a sequential download; 0 means 8.',
    }),
  ),
  download_concurrency: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 64,
      description: 'Ranged GETs of one sequential download fetched ahead at once; 0 means 3.',
    }),
  ),
  force_path_style: Type.Optional(
    Type.Boolean({
      description:
        'Path-style addressing (endpoint/bucket/key), as MinIO and most S3-compatible servers need; off uses virtual-hosted style (bucket.endpoint/key).',
    }),
  ),
};
const accessSecret = Type.String({
  description: 'Write only: stored encrypted and never included in replies.',
});

const FsProviderSchema = intEnum([FsProvider.local, FsProvider.s3] as const, '0 local, 1 S3.');

export const S3ConfigSchema = Type.Object(
  { ...s3Fields, access_secret: accessSecret },
  { additionalProperties: false },
);
export const UserFiltersSchema = Type.Object(filterFields, { additionalProperties: false });
export const UserFilesystemSchema = Type.Object(
  { provider: FsProviderSchema, s3config: Type.Optional(S3ConfigSchema) },
  { additionalProperties: false },
);

const PASSWORD_DESCRIPTION =
  'Clear text (stored as argon2id) or a bcrypt, pbkdf2, md5crypt or sha512crypt hash.';

/** The properties an administrator sets on an account, each with its meaning. */
const accountFields = {
  username: Username,
  password: Type.String({ description: PASSWORD_DESCRIPTION }),
  public_keys: Type.Array(Type.String({ minLength: 1 }), {
    description: 'OpenSSH authorized_keys lines, without options.',
  }),
  status: Status,
  expiration_date: count('Unix time in milliseconds; 0 never expires.'),
  home_dir: Type.String({ description: 'Absolute path; empty takes users_base_dir/username.' }),
  uid: unixId,
  gid: unixId,
  max_sessions: count('Concurrent sessions; 0 unlimited.'),
  quota_size: count('Bytes; 0 unlimited.'),
  quota_files: count('Files; 0 unlimited.'),
  permissions: Permissions,
  upload_bandwidth: count(BANDWIDTH),
  download_bandwidth: count(BANDWIDTH),
  filters: UserFiltersSchema,
  filesystem: UserFilesystemSchema,
  managed_by: Type.Optional(
    Type.String({
      maxLength: MAX_MANAGED_BY_LENGTH,
      description:
        'The SftpUser ("namespace/name") whose operator writes this account; empty when the REST API manages it. The REST API refuses to change or delete a managed account.',
    }),
  ),
};

/** What the provider keeps up to date itself: never set through the account properties. */
const providerFields = {
  id: Type.Integer({ minimum: 1 }),
  used_quota_size: Type.Integer(),
  used_quota_files: Type.Integer(),
  last_quota_update: Type.Integer({ description: 'Unix time in milliseconds.' }),
  last_login: Type.Integer({ description: 'Unix time in milliseconds.' }),
};

/** A complete account as a driver stores it; the password is a hash or empty. */
export const NewUserSchema = Type.Object(accountFields, { additionalProperties: false });

/** A stored account: the properties plus what the provider owns. Dumps hold this form. */
export const StoredUserSchema = Type.Object(
  { ...providerFields, ...accountFields },
  { additionalProperties: false },
);

/** The reply form: no password hash, no S3 secret (the serializer drops undeclared fields). */
export const UserReplySchema = Type.Object(
  {
    ...providerFields,
    ...Type.Omit(NewUserSchema, ['password', 'filesystem']).properties,
    filesystem: Type.Object({
      provider: FsProviderSchema,
      s3config: Type.Optional(Type.Object(s3Fields)),
    }),
  },
  { $id: 'User' },
);

/**
 * The request form: every property optional; omitted ones keep their stored or default value.
 * managed_by is not among them: only the operator sets it, through the provider.
 */
export const UserInputSchema = Type.Object(
  {
    ...Type.Partial(Type.Omit(NewUserSchema, ['filters', 'filesystem', 'managed_by'])).properties,
    filters: Type.Optional(Type.Partial(UserFiltersSchema)),
    filesystem: Type.Optional(
      Type.Object(
        {
          provider: FsProviderSchema,
          s3config: Type.Optional(Type.Partial(S3ConfigSchema)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'UserInput', additionalProperties: false },
);

/** The create form: like UserInput, with the username required. */
export const NewUserInputSchema = Type.Object(
  { ...UserInputSchema.properties, username: Username },
  { $id: 'NewUserInput', additionalProperties: false },
);

export type S3Config = Static<typeof S3ConfigSchema>;
export type UserFilters = Static<typeof UserFiltersSchema>;
export type UserFilesystem = Static<typeof UserFilesystemSchema>;
/** What a caller supplies to create a user; the provider assigns id and usage counters. */
export type NewUser = Static<typeof NewUserSchema>;
export type User = Static<typeof StoredUserSchema>;
/** A user as the API accepts it, unknown fields already dropped. */
export type UserInput = Static<typeof UserInputSchema>;
