/**
 * A provider's accounts as one JSON document: every user (password hashes and usage counters
 * included) and every administrator. `kubesftp dumpdata` writes it, `kubesftp loaddata` and
 * the memory driver read it, so accounts move between drivers unchanged.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { keyPathOf } from '../config/validate.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { MAX_ADMIN_DESCRIPTION, Status, StoredUserSchema, Username } from './account-schema.js';
import type { Admin, DataProvider, NewUser, User } from './types.js';

export const DUMP_VERSION = 1;

const StoredAdminSchema = Type.Object(
  {
    id: Type.Integer({ minimum: 1 }),
    username: Username,
    password: Type.String({ minLength: 1 }),
    status: Status,
    description: Type.String({ maxLength: MAX_ADMIN_DESCRIPTION }),
  },
  { additionalProperties: false },
);

export const DumpSchema = Type.Object(
  {
    version: Type.Literal(DUMP_VERSION),
    users: Type.Array(StoredUserSchema),
    admins: Type.Array(StoredAdminSchema),
  },
  { additionalProperties: false },
);
export type ProviderDump = Static<typeof DumpSchema>;

const checkDump = new Ajv({ strict: false }).compile(DumpSchema);

/** Parses and checks a dump's text; `source` names the file in errors. */
export function parseDump(text: string, source: string): ProviderDump {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new KubesftpError(
      ErrorCode.INVALID_ARGUMENT,
      `${source}: not JSON (${(err as Error).message})`,
    );
  }
  const matches: boolean = checkDump(value);
  if (!matches) {
    const error = checkDump.errors?.[0];
    const where = keyPathOf(error?.instancePath ?? '') || '(document)';
    throw new KubesftpError(
      ErrorCode.INVALID_ARGUMENT,
      `${source}: ${where}: ${error?.message ?? 'does not match the dump format'}`,
    );
  }
  return value as ProviderDump;
}

const PAGE = 500;

async function allPages<T>(page: (offset: number) => Promise<T[]>): Promise<T[]> {
  const all: T[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const rows = await page(offset);
    all.push(...rows);
    if (rows.length < PAGE) return all;
  }
}

/** Every user and admin of `provider`, in username order. */
export async function dumpProvider(provider: DataProvider): Promise<ProviderDump> {
  const users = await allPages((offset) =>
    provider.listUsers({ offset, limit: PAGE, order: 'ASC' }),
  );
  const admins = await allPages((offset) =>
    provider.listAdmins({ offset, limit: PAGE, order: 'ASC' }),
  );
  return { version: DUMP_VERSION, users, admins };
}

/** What to do with an account that already exists on the target. */
export type LoadMode = 'skip' | 'replace';

export interface LoadReport {
  added: number;
  replaced: number;
  skipped: number;
}

const PROVIDER_OWNED: ReadonlySet<string> = new Set([
  'id',
  'used_quota_size',
  'used_quota_files',
  'last_quota_update',
  'last_login',
]);

function accountOf(user: User): NewUser {
  const entries = Object.entries(user).filter(([key]) => !PROVIDER_OWNED.has(key));
  return Object.fromEntries(entries) as NewUser;
}

async function loadAdmin(
  provider: DataProvider,
  admin: Admin,
  mode: LoadMode,
): Promise<keyof LoadReport> {
  const { username, password, status, description } = admin;
  const properties = { username, password, status, description };
  if ((await provider.getAdminByUsername(admin.username)) === undefined) {
    await provider.addAdmin(properties);
    return 'added';
  }
  if (mode === 'skip') return 'skipped';
  await provider.updateAdmin(properties);
  return 'replaced';
}

async function loadUser(
  provider: DataProvider,
  user: User,
  mode: LoadMode,
): Promise<keyof LoadReport> {
  const existing = await provider.getUserByUsername(user.username);
  if (existing !== undefined && mode === 'skip') return 'skipped';
  if (existing === undefined) await provider.addUser(accountOf(user));
  else await provider.updateUser(existing.id, accountOf(user));
  // Usage moves with the account: the files it counts moved (or stay) with the home.
  await provider.updateQuota(user.username, {
    sizeDelta: user.used_quota_size,
    filesDelta: user.used_quota_files,
    reset: true,
  });
  if (user.last_login > 0) await provider.updateLastLogin(user.username, user.last_login);
  return existing === undefined ? 'added' : 'replaced';
}

/**
 * Writes a dump's admins, then its users, into `provider`. Ids are the target's own; an
 * account that exists there (by username) is kept (`skip`) or overwritten (`replace`).
 */
export async function loadDump(
  provider: DataProvider,
  dump: ProviderDump,
  mode: LoadMode,
): Promise<{ users: LoadReport; admins: LoadReport }> {
  const report = {
    users: { added: 0, replaced: 0, skipped: 0 },
    admins: { added: 0, replaced: 0, skipped: 0 },
  };
  for (const admin of dump.admins) report.admins[await loadAdmin(provider, admin, mode)]++;
  for (const user of dump.users) report.users[await loadUser(provider, user, mode)]++;
  return report;
}
