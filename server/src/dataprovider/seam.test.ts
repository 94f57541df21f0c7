/**
 * The provider seam (account schema, types, validation, the driver factory and the network
 * drivers) is what the operator will link: it must load without the SSH transport, the
 * hashing library or SQLite, all of which need native code the operator image does not have.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';

const run = promisify(execFile);
const here = import.meta.dirname;
const FORBIDDEN = ['argon2', 'ssh2', 'better-sqlite3', 'cpu-features'];
const SEAM = [
  'account-schema.js',
  'types.js',
  'validate.js',
  'drivers.js',
  'dump.js',
  'network-options.js',
  'postgresql.js',
  'mysql.js',
];

/** A resolve hook that fails any import of a forbidden package, naming who asked. */
const HOOKS = `
const forbidden = new Set(${JSON.stringify(FORBIDDEN)});
export async function resolve(specifier, context, next) {
  if (forbidden.has(specifier)) throw new Error('native module ' + specifier + ' imported by ' + context.parentURL);
  return next(specifier, context);
}`;

test('the provider seam loads and validates accounts without any native module', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubesftp-seam-'));
  try {
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
    const register = `import { register } from 'node:module'; register(${JSON.stringify(
      pathToFileURL(join(dir, 'hooks.mjs')).href,
    )});`;
    writeFileSync(join(dir, 'register.mjs'), register);
    const imports = SEAM.map(
      (file) => `await import(${JSON.stringify(pathToFileURL(join(here, file)).href)});`,
    );
    const check = `
      ${imports.join('\n')}
      const { validateUser } = await import(${JSON.stringify(pathToFileURL(join(here, 'validate.js')).href)});
      const { openDriver } = await import(${JSON.stringify(pathToFileURL(join(here, 'drivers.js')).href)});
      validateUser({ username: 'op', password: '$1$x$y', public_keys: [], status: 1, expiration_date: 0,
        home_dir: '/srv/op', uid: 0, gid: 0, max_sessions: 0, quota_size: 0, quota_files: 0,
        permissions: { '/': ['*'] }, upload_bandwidth: 0, download_bandwidth: 0,
        filters: { allowed_ip: [], denied_ip: [] }, filesystem: { provider: 0 } });
      const driver = await openDriver({ driver: 'postgresql', name: 'db', configDir: '/',
        network: { host: '127.0.0.1', username: 'u' } });
      await driver.close();
      let refused = '';
      try { await import('argon2'); } catch (err) { refused = err.message; }
      if (!refused.includes('native module argon2')) throw new Error('the hook did not refuse argon2');
      console.log('seam ok');`;
    const { stdout } = await run(process.execPath, [
      '--import',
      pathToFileURL(join(dir, 'register.mjs')).href,
      '--input-type=module',
      '--eval',
      check,
    ]);
    assert.match(stdout, /seam ok/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
