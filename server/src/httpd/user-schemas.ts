/*
 * JSON schemas of the user resource, all derived from the account schema. Requests are
 * validated by them, replies are serialized by them (undeclared fields are dropped), and the
 * OpenAPI document is generated from them.
 */
import {
  NewUserInputSchema,
  UserInputSchema,
  UserReplySchema,
  Username,
} from '../dataprovider/account-schema.js';

/** The names users and admins may have. */
export const usernameSchema = Username;

export const userInputSchema = UserInputSchema;
export const newUserInputSchema = NewUserInputSchema;
export const userSchema = UserReplySchema;

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
