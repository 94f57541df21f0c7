import type { FastifyPluginCallback } from 'fastify';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import type { Admin, DataProvider, ListAdminsQuery } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { adminListQuerySchema, adminListSchema, adminParamsSchema } from './admin-schemas.js';
import { errorResponses, messageSchema, securedRoute } from './route-schemas.js';

export interface AdminRoutesOptions {
  provider: DataProvider;
}

interface AdminInput {
  username?: string;
  password?: string;
  status?: 0 | 1;
  description?: string;
}

interface UsernameParams {
  username: string;
}

interface ChangePasswordInput {
  current_password: string;
  new_password: string;
}

const adminRef = { $ref: 'Admin#' } as const;

async function findAdmin(provider: DataProvider, username: string): Promise<Admin> {
  const admin = await provider.getAdminByUsername(username);
  if (admin === undefined)
    throw new KubesftpError(ErrorCode.NOT_FOUND, `admin ${username} not found`);
  return admin;
}

/** REST resource /admins, and /admin/changepwd for the caller's own password. */
export const adminRoutes: FastifyPluginCallback<AdminRoutesOptions> = (app, options, done) => {
  const { provider } = options;

  app.get<{ Querystring: ListAdminsQuery }>('/admins', {
    schema: securedRoute({
      summary: 'List administrators, ordered by username',
      tags: ['admins'],
      querystring: adminListQuerySchema,
      response: { 200: adminListSchema, ...errorResponses },
    }),
    handler: (request) => provider.listAdmins(request.query),
  });

  app.post<{ Body: Required<Pick<AdminInput, 'username' | 'password'>> & AdminInput }>('/admins', {
    schema: securedRoute({
      summary: 'Create an administrator',
      tags: ['admins'],
      body: { $ref: 'NewAdminInput#' },
      response: { 201: adminRef, ...errorResponses },
    }),
    handler: async (request, reply) => {
      const created = await provider.addAdmin(request.body);
      return reply.code(201).send(created);
    },
  });

  app.get<{ Params: UsernameParams }>('/admins/:username', {
    schema: securedRoute({
      summary: 'Get an administrator',
      tags: ['admins'],
      params: adminParamsSchema,
      response: { 200: adminRef, ...errorResponses },
    }),
    handler: (request) => findAdmin(provider, request.params.username),
  });

  app.put<{ Params: UsernameParams; Body: AdminInput }>('/admins/:username', {
    schema: securedRoute({
      summary:
        'Update an administrator; omitted properties and an empty password keep their stored values',
      tags: ['admins'],
      params: adminParamsSchema,
      body: { $ref: 'AdminInput#' },
      response: { 200: adminRef, ...errorResponses },
    }),
    handler: async (request) => {
      const { username } = request.params;
      if (request.body.username !== undefined && request.body.username !== username) {
        throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'username cannot be changed');
      }
      await findAdmin(provider, username);
      return provider.updateAdmin({
        ...request.body,
        username,
        password: request.body.password ?? '',
      });
    },
  });

  app.delete<{ Params: UsernameParams }>('/admins/:username', {
    schema: securedRoute({
      summary: 'Delete an administrator; the last active one cannot be deleted',
      tags: ['admins'],
      params: adminParamsSchema,
      response: { 200: messageSchema, ...errorResponses },
    }),
    handler: async (request) => {
      await provider.deleteAdmin(request.params.username);
      return { message: 'admin deleted' };
    },
  });

  app.put<{ Body: ChangePasswordInput }>('/admin/changepwd', {
    schema: securedRoute({
      summary: "Change the calling administrator's password; its tokens, this one too, end",
      tags: ['admins'],
      body: { $ref: 'ChangePasswordInput#' },
      response: { 200: messageSchema, ...errorResponses },
    }),
    handler: async (request) => {
      const admin = await findAdmin(provider, request.adminUsername);
      if (!(await verifyPassword(request.body.current_password, admin.password))) {
        throw new KubesftpError(ErrorCode.PERMISSION_DENIED, 'current_password does not match');
      }
      // Hashed here so a new password that looks like a hash is still taken as clear text.
      const password = await hashPassword(request.body.new_password);
      await provider.updateAdmin({ username: admin.username, password });
      return { message: 'password changed; request a new token with it' };
    },
  });
  done();
};
