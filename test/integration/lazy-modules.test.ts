/**
 * `kubesftp serve` loads what a feature needs only once the feature is used: a server with
 * the default sqlite provider and no S3 account, started a second time (the admin exists, so
 * nothing is hashed), holds neither the S3 SDK nor the Kubernetes client, the other database
 * drivers, the YAML parser or argon2, nor TypeBox or ajv's compiler (its validators are
 * precompiled), the OpenTelemetry API (prom-client's exemplars) or ssh2's WebAssembly
 * Poly1305 (its binding does that work), the SSH commands (scp, the checksums, rsync and git) or
 * the builders of action arguments; and after /healthz and /metrics have been answered, not the REST stack either
 * (fastify, its plugins, the JWT library), which the first API request loads. The modules are seen by a loader hook in the real server process; that each lazily
 * loaded module still works is tested where it is used (passwords, config formats, the S3
 * backend, the REST API).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort, serveInvocation, waitForPorts } from './harness.js';

/** Runs in the loader thread of the server: appends every module URL it loads to a file. */
const HOOKS = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.KUBESFTP_TEST_MODULE_LOG, url + '\\n');
  return next(url, context);
}
`;
/**
 * Runs in the server's main thread: registers the hook, and since the hook does not see what
 * CommonJS modules require, writes the CommonJS module cache to the same log every 100 ms.
 */
const REGISTER = (
  hooksUrl: string,
): string => `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(hooksUrl)});
const cache = createRequire(import.meta.url).cache;
const seen = new Set();
setInterval(() => {
  const fresh = Object.keys(cache).filter((path) => !seen.has(path));
  for (const path of fresh) seen.add(path);
  if (fresh.length > 0) appendFileSync(process.env.KUBESFTP_TEST_MODULE_LOG, fresh.join('\\n') + '\\n');
}, 100).unref();
`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const readLog = async (logPath: string): Promise<string[]> =>
  (await readFile(logPath, 'utf8')).split('\n').filter((line) => line !== '');

async function get(httpPort: number, path: string): Promise<number> {
  const reply = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
    signal: AbortSignal.timeout(20_000),
  });
  await reply.arrayBuffer();
  return reply.status;
}

/** What a started server had loaded after its probes, and after its first API request. */
interface LoadedModules {
  afterProbes: string[];
  afterApi: string[];
}

/**
 * Starts serve with the hook and waits until it listens; asks /healthz and /metrics, then
 * /api/v1/version; stops it. Returns the modules it had loaded at each point.
 */
async function modulesLoadedByServe(work: string, configDir: string): Promise<LoadedModules> {
  const logPath = join(work, `modules-${Date.now()}.txt`);
  await writeFile(logPath, '');
  const httpPort = await freePort();
  const invocation = serveInvocation({
    configDir,
    httpPort,
    adminPassword: 'lazy-modules-test-admin',
    verbose: false,
    env: { KUBESFTP_SFTPD__HOST_KEY_TYPES: 'ed25519', KUBESFTP_TEST_MODULE_LOG: logPath },
  });
  const child = spawn(
    process.execPath,
    ['--import', pathToFileURL(join(work, 'register.mjs')).href, ...invocation.args],
    { env: invocation.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await waitForPorts(child);
    assert.equal(await get(httpPort, '/healthz'), 200);
    assert.equal(await get(httpPort, '/metrics'), 200);
    await sleep(300);
    const afterProbes = await readLog(logPath);
    assert.equal(await get(httpPort, '/api/v1/version'), 200);
    await sleep(300);
    return { afterProbes, afterApi: await readLog(logPath) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('close', resolve));
  }
}

describe('modules a started server holds', { timeout: 60_000 }, () => {
  let work: string;
  let configDir: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-lazy-'));
    configDir = join(work, 'config');
    await mkdir(configDir);
    await writeFile(join(work, 'hooks.mjs'), HOOKS);
    await writeFile(
      join(work, 'register.mjs'),
      REGISTER(pathToFileURL(join(work, 'hooks.mjs')).href),
    );
  });

  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('the first start hashes the admin password with argon2; a restart loads none of the optional parts', async () => {
    const { afterProbes: first } = await modulesLoadedByServe(work, configDir);
    assert.ok(
      first.some((url) => url.includes('/node_modules/argon2/')),
      'the hook saw argon2 when the admin was created: the probe works',
    );
    assert.ok(first.some((url) => url.includes('/node_modules/ssh2/')));

    const { afterProbes: modules, afterApi } = await modulesLoadedByServe(work, configDir);
    assert.ok(modules.some((url) => url.includes('/node_modules/better-sqlite3/')));
    assert.ok(
      afterApi.some((url) => url.includes('/node_modules/fastify/')),
      'the hook saw fastify once the API was asked: the probe works',
    );
    for (const absent of [
      '/node_modules/@aws-sdk/',
      '/node_modules/@smithy/',
      '/node_modules/@kubernetes/',
      '/node_modules/pg/',
      '/node_modules/mysql2/',
      '/node_modules/yaml/',
      '/node_modules/smol-toml/',
      '/node_modules/argon2/',
      '/node_modules/bcryptjs/',
      '/node_modules/unixcrypt/',
      '/node_modules/fastify/',
      '/node_modules/@fastify/',
      '/node_modules/jose/',
      '/dist/server/src/httpd/server.js',
      '/node_modules/@sinclair/typebox/',
      '/node_modules/@opentelemetry/',
      '/dist/server/src/config/schema.js',
      '/dist/server/src/dataprovider/account-schema.js',
      // SSH commands and the builders of action arguments load when first used.
      '/dist/server/src/commands/scp/',
      '/dist/server/src/commands/checksum.js',
      '/dist/server/src/commands/system/',
      '/dist/server/src/actions/calls.js',
      // ssh2's client side and prom-client's push client bring in tls, https and dns.
      '/node_modules/ssh2/lib/client.js',
      '/node_modules/ssh2/lib/http-agents.js',
      '/node_modules/ssh2/lib/agent.js',
      '/node_modules/prom-client/lib/pushgateway.js',
    ]) {
      const loaded = modules.filter((url) => url.includes(absent));
      assert.deepEqual(loaded, [], `${absent} is loaded at start`);
    }
    const ajvCompiler = modules.filter(
      (url) =>
        url.includes('/node_modules/ajv/') && !url.includes('/node_modules/ajv/dist/runtime/'),
    );
    assert.deepEqual(ajvCompiler, [], 'only the runtime helpers of ajv are loaded at start');
    assert.ok(
      modules.some((path) => path.includes('/node_modules/prom-client/')),
      'the CommonJS modules are seen too: the probe works',
    );
    if (modules.some((path) => path.endsWith('/sshcrypto.node'))) {
      assert.ok(
        !modules.some((path) => path.endsWith('/ssh2/lib/protocol/crypto/poly1305.js')),
        "with ssh2's binding, its WebAssembly Poly1305 is not instantiated",
      );
    }
  });
});
