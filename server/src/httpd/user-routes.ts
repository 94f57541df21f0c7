import type { FastifyPluginCallback } from 'fastify';
import type { DataProvider, ListUsersQuery, User } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { mergeUserInput, type UserInput } from './user-input.js';
import { userIdParamsSchema, userListQuerySchema, userListSchema } from './user-schemas.js';
import { errorResponses, messageSchema, securedRoute } from './route-schemas.js';

export interface UserRoutesOptions {
  provider: DataProvider;
  usersBaseDir?: string;
  /** data_provider.manage_users: 0 leaves only the reading routes working (a database view). */
  manageUsers?: 0 | 1;
}

interface IdParams {
  id: number;
}

const userRef = { $ref: 'User#' } as const;

async function findUser(provider: DataProvider, id: number): Promise<User> {
  const user = await provider.getUserById(id);
  if (user === undefined) throw new KubesftpError(ErrorCode.NOT_FOUND, `user ${id} not found`);
  return user;
}

/**
 * An account the operator writes belongs to its SftpUser: a change made here would be reverted
 * at the operator's next pass, so it is refused and the message names where to make it.
 */
function refuseManaged(user: User, verb: string): void {
  if (!user.managed_by) return;
  throw new KubesftpError(
    ErrorCode.CONFLICT,
    `user ${user.username} is managed by SftpUser ${user.managed_by}: ${verb} that resource instead`,
  );
}

function readOnlyUsers(): KubesftpError {
  return new KubesftpError(
    ErrorCode.PERMISSION_DENIED,
    'users are read-only on this server (data_provider.manage_users is 0)',
  );
}

/** REST resource /user: create, list, read, replace and delete accounts. */
export const userRoutes: FastifyPluginCallback<UserRoutesOptions> = (app, options, done) => {
  const { provider, usersBaseDir } = options;
  const writable = options.manageUsers !== 0;
  // Refused before the body is read, so a read-only server says so whatever was sent.
  const refuseWhenReadOnly = async (): Promise<void> => {
    if (!writable) throw readOnlyUsers();
    return Promise.resolve();
  };

  app.post<{ Body: UserInput }>('/user', {
    schema: securedRoute({
      summary: 'Create a user',
      tags: ['users'],
      body: { $ref: 'NewUserInput#' },
      response: { 201: userRef, ...errorResponses },
    }),
    onRequest: refuseWhenReadOnly,
    handler: async (request, reply) => {
      // The provider hashes the password and validates the account before storing it.
      const created = await provider.addUser(mergeUserInput(request.body, { usersBaseDir }));
      return reply.code(201).send(created);
    },
  });

  app.get<{ Querystring: ListUsersQuery }>('/user', {
    schema: securedRoute({
      summary: 'List users, ordered by username',
      tags: ['users'],
      querystring: userListQuerySchema,
      response: { 200: userListSchema, ...errorResponses },
    }),
    handler: (request) => provider.listUsers(request.query),
  });

  app.get<{ Params: IdParams }>('/user/:id', {
    schema: securedRoute({
      summary: 'Get a user by id',
      tags: ['users'],
      params: userIdParamsSchema,
      response: { 200: userRef, ...errorResponses },
    }),
    handler: (request) => findUser(provider, request.params.id),
  });

  app.put<{ Params: IdParams; Body: UserInput }>('/user/:id', {
    schema: securedRoute({
      summary: 'Update a user; omitted properties and an empty password keep their stored values',
      tags: ['users'],
      params: userIdParamsSchema,
      body: { $ref: 'UserInput#' },
      response: { 200: userRef, ...errorResponses },
    }),
    onRequest: refuseWhenReadOnly,
    handler: async (request) => {
      const existing = await findUser(provider, request.params.id);
      refuseManaged(existing, 'change');
      if (request.body.username !== undefined && request.body.username !== existing.username) {
        throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'username cannot be changed');
      }
      const merged = mergeUserInput(request.body, { existing, usersBaseDir });
      return provider.updateUser(existing.id, merged);
    },
  });

  app.delete<{ Params: IdParams }>('/user/:id', {
    schema: securedRoute({
      summary: 'Delete a user',
      tags: ['users'],
      params: userIdParamsSchema,
      response: { 200: messageSchema, ...errorResponses },
    }),
    onRequest: refuseWhenReadOnly,
    handler: async (request) => {
      refuseManaged(await findUser(provider, request.params.id), 'delete');
      await provider.deleteUser(request.params.id);
      return { message: 'user deleted' };
    },
  });
  done();
};
