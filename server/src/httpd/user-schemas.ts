import { PERMISSIONS } from '../dataprovider/types.js';

/*
 * JSON schemas of the user resource. Requests are validated by them, replies are serialized
 * by them (undeclared fields are dropped), and the OpenAPI document is generated from them.
 */

const uint = { type: 'integer', minimum: 0 } as const;
const idRange = { type: 'integer', minimum: 0, maximum: 2147483647 } as const;
const cidrList = { type: 'array', items: { type: 'string', minLength: 1 } } as const;

const permissions = {
  type: 'object',
  description: 'Virtual directory ("/" or "/sub/dir") to the permissions granted there.',
  additionalProperties: {
    type: 'array',
    items: { type: 'string', enum: [...PERMISSIONS] },
    minItems: 1,
  },
} as const;

const filters = {
  type: 'object',
  additionalProperties: false,
  properties: { allowed_ip: cidrList, denied_ip: cidrList },
} as const;

const s3ConfigFields = {
  bucket: { type: 'string' },
  region: { type: 'string' },
  access_key: { type: 'string' },
  endpoint: { type: 'string' },
  storage_class: { type: 'string' },
  key_prefix: { type: 'string' },
} as const;

/** The names users and admins may have. */
export const usernameSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  pattern: '^[A-Za-z0-9._@-]+$',
} as const;

/** Shared account properties; the request form adds `password` and the S3 secret. */
const accountFields = {
  username: usernameSchema,
  public_keys: { type: 'array', items: { type: 'string', minLength: 1 } },
  status: { type: 'integer', enum: [0, 1], description: '1 active, 0 disabled.' },
  expiration_date: { ...uint, description: 'Unix time in milliseconds; 0 never expires.' },
  home_dir: { type: 'string', description: 'Absolute path; empty takes users_base_dir/username.' },
  uid: idRange,
  gid: idRange,
  max_sessions: uint,
  quota_size: { ...uint, description: 'Bytes; 0 unlimited.' },
  quota_files: uint,
  permissions,
  upload_bandwidth: { ...uint, description: 'KB/s; 0 unlimited.' },
  download_bandwidth: { ...uint, description: 'KB/s; 0 unlimited.' },
  filters,
} as const;

export const userInputSchema = {
  $id: 'UserInput',
  type: 'object',
  additionalProperties: false,
  properties: {
    ...accountFields,
    password: {
      type: 'string',
      description:
        'Clear text (stored as argon2id) or a bcrypt, pbkdf2, md5crypt or sha512crypt hash.',
    },
    filesystem: {
      type: 'object',
      additionalProperties: false,
      required: ['provider'],
      properties: {
        provider: { type: 'integer', enum: [0, 1], description: '0 local, 1 S3.' },
        s3config: {
          type: 'object',
          additionalProperties: false,
          properties: { ...s3ConfigFields, access_secret: { type: 'string' } },
        },
      },
    },
  },
} as const;

/** The create form: like UserInput, with the username required. */
export const newUserInputSchema = {
  ...userInputSchema,
  $id: 'NewUserInput',
  required: ['username'],
} as const;

export const userSchema = {
  $id: 'User',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    ...accountFields,
    used_quota_size: { type: 'integer' },
    used_quota_files: { type: 'integer' },
    last_quota_update: { type: 'integer' },
    last_login: { type: 'integer' },
    filesystem: {
      type: 'object',
      properties: {
        provider: { type: 'integer' },
        // access_secret is left out on purpose: the serializer drops it from every reply.
        s3config: { type: 'object', properties: s3ConfigFields },
      },
    },
  },
} as const;

export const userListSchema = { type: 'array', items: { $ref: 'User#' } } as const;

export const userIdParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
} as const;

export const MAX_PAGE_SIZE = 500;

export const userListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    offset: { type: 'integer', minimum: 0, default: 0 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: 100 },
    order: { type: 'string', enum: ['ASC', 'DESC'], default: 'ASC' },
    username: { type: 'string' },
  },
} as const;
