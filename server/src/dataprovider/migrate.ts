/**
 * Schema migrations: `sql/<driver>/YYYYMMDD[_n].sql` files applied in order, each in its own
 * transaction and recorded in `schema_version`. Drivers supply a MigrationTarget; the order,
 * the templating and the "database is newer than this code" refusal live here, once.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, KubesftpError } from '../errors.js';

export interface Migration {
  /** File name without `.sql`, e.g. `20261128` or `20261128_2`. */
  version: string;
  /** SQL with every `{{name}}` placeholder replaced. */
  sql: string;
}

/** What a driver offers the runner. */
export interface MigrationTarget {
  /** Creates the version table if it is missing. */
  prepare(): Promise<void>;
  appliedVersions(): Promise<string[]>;
  /**
   * Runs the migration and records its version in one exclusive transaction, doing nothing
   * if another process recorded it first.
   */
  apply(migration: Migration): Promise<void>;
}

const MIGRATION_FILE = /^(\d{8})(?:_(\d+))?\.sql$/;

function versionKey(version: string): [number, number] {
  const match = MIGRATION_FILE.exec(`${version}.sql`);
  return match ? [Number(match[1]), Number(match[2] ?? 0)] : [Number.NaN, Number.NaN];
}

/** Orders versions by date, then by step (`20261128` < `20261128_2` < `20261128_10`). */
export function compareVersions(a: string, b: string): number {
  const [dateA, stepA] = versionKey(a);
  const [dateB, stepB] = versionKey(b);
  return dateA - dateB || stepA - stepB;
}

function render(sql: string, vars: Record<string, string>, file: string): string {
  return sql.replace(/\{\{(\w+)\}\}/g, (_whole, name: string) => {
    const value = vars[name];
    if (value === undefined) {
      throw new KubesftpError(
        ErrorCode.FAILURE,
        `migration ${file}: unknown placeholder {{${name}}}`,
      );
    }
    return value;
  });
}

/** Reads every migration of a directory in apply order; a misnamed `.sql` file is an error. */
export async function loadMigrations(
  dir: string,
  vars: Record<string, string>,
): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.sql'));
  const bad = files.find((name) => !MIGRATION_FILE.test(name));
  if (bad !== undefined) {
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `migration ${join(dir, bad)}: name must be YYYYMMDD[_n].sql`,
    );
  }
  const versions = files.map((name) => name.slice(0, -'.sql'.length)).sort(compareVersions);
  return Promise.all(
    versions.map(async (version) => {
      const file = join(dir, `${version}.sql`);
      return { version, sql: render(await readFile(file, 'utf8'), vars, file) };
    }),
  );
}

function refuseUnknown(applied: string[], known: Migration[]): void {
  const knownVersions = new Set(known.map((m) => m.version));
  const unknown = applied.filter((v) => !knownVersions.has(v)).sort(compareVersions);
  if (unknown.length === 0) return;
  const newest = known.at(-1)?.version ?? 'none';
  const latest = unknown.at(-1) ?? '';
  const reason =
    compareVersions(latest, newest) > 0
      ? `the database schema is at ${latest}, newer than this kubesftp knows (${newest}); upgrade kubesftp`
      : `the database records migrations this kubesftp does not have: ${unknown.join(', ')}`;
  throw new KubesftpError(ErrorCode.PROVIDER_UNAVAILABLE, reason);
}

/**
 * Applies the migrations the database has not seen, oldest first. Returns the versions it
 * applied; safe on every start and from several processes at once.
 */
export async function runMigrations(
  target: MigrationTarget,
  migrations: Migration[],
): Promise<string[]> {
  await target.prepare();
  const applied = await target.appliedVersions();
  refuseUnknown(applied, migrations);
  const done = new Set(applied);
  const pending = migrations.filter((m) => !done.has(m.version));
  for (const migration of pending) await target.apply(migration);
  return pending.map((m) => m.version);
}

/**
 * Finds `sql/<driver>` by walking up from this module, so it works from the sources and from
 * the compiled output alike.
 */
export function findMigrationsDir(driver: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'sql', driver);
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new KubesftpError(
    ErrorCode.PROVIDER_UNAVAILABLE,
    `no sql/${driver} migrations directory found`,
  );
}
