import { MAX_ADMIN_DESCRIPTION } from '../dataprovider/validate.js';
import { MAX_PAGE_SIZE, usernameSchema } from './user-schemas.js';

/*
 * JSON schemas of the admin resource. Replies are serialized by them, so the password hash
 * never leaves the server even though the handlers return whole stored admins.
 */

const adminFields = {
  username: usernameSchema,
  status: {
    type: 'integer',
    enum: [0, 1],
    description:
      '1 active, 0 disabled: a disabled admin gets no token and its tokens stop working.',
  },
  description: { type: 'string', maxLength: MAX_ADMIN_DESCRIPTION },
} as const;

export const adminInputSchema = {
  $id: 'AdminInput',
  type: 'object',
  additionalProperties: false,
  properties: {
    ...adminFields,
    password: {
      type: 'string',
      description:
        'Clear text (stored as argon2id) or a bcrypt, pbkdf2, md5crypt or sha512crypt hash; empty keeps the current one. A new password ends every token of the admin.',
    },
  },
} as const;

/** The create form: username and a non-empty password required. */
export const newAdminInputSchema = {
  ...adminInputSchema,
  $id: 'NewAdminInput',
  properties: {
    ...adminInputSchema.properties,
    password: { ...adminInputSchema.properties.password, minLength: 1 },
  },
  required: ['username', 'password'],
} as const;

export const adminSchema = {
  $id: 'Admin',
  type: 'object',
  properties: { id: { type: 'integer' }, ...adminFields },
} as const;

export const adminListSchema = { type: 'array', items: { $ref: 'Admin#' } } as const;

export const adminParamsSchema = {
  type: 'object',
  required: ['username'],
  properties: { username: usernameSchema },
} as const;

export const adminListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    offset: { type: 'integer', minimum: 0, default: 0 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: 100 },
    order: { type: 'string', enum: ['ASC', 'DESC'], default: 'ASC' },
  },
} as const;

export const changePasswordSchema = {
  $id: 'ChangePasswordInput',
  type: 'object',
  additionalProperties: false,
  required: ['current_password', 'new_password'],
  properties: {
    current_password: { type: 'string', minLength: 1 },
    new_password: {
      type: 'string',
      minLength: 1,
      description: 'Clear text, stored as argon2id. Every token of the admin ends with the change.',
    },
  },
} as const;
