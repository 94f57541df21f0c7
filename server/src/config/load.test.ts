import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { loadConfig } from './load.js';
import { resolveConfigPath, resolveConfigPaths } from './paths.js';
import { defaultConfig } from './validate.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function dirWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kubesftp-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

async function loadError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isKubesftpError(err, ErrorCode.CONFIG_INVALID), String(err));
    return err.message;
  }
  assert.fail('expected CONFIG_INVALID');
}

// The same settings in every supported format.
const SAME_CONFIG: Record<string, string> = {
  'kubesftp.json': JSON.stringify({
    sftpd: {
      bind_port: 2200,
      upload_mode: 1,
      enable_scp: true,
      keys: [{ private_key: 'id_ed25519' }],
      actions: { execute_on: ['upload', 'download'] },
    },
    data_provider: { driver: 'memory' },
    httpd: { bind_port: 0 },
  }),
  'kubesftp.yaml': `sftpd:
  bind_port: 2200
  upload_mode: 1
  enable_scp: true
  keys:
    - private_key: id_ed25519
  actions:
    execute_on: [upload, download]
data_provider:
  driver: memory
httpd:
  bind_port: 0
`,
  'kubesftp.toml': `[sftpd]
bind_port = 2200
upload_mode = 1
enable_scp = true
keys = [{ private_key = "id_ed25519" }]

[sftpd.actions]
execute_on = ["upload", "download"]

[data_provider]
driver = "memory"

[httpd]
bind_port = 0
`,
  'kubesftp.env': `KUBESFTP_SFTPD__BIND_PORT=2200
KUBESFTP_SFTPD__UPLOAD_MODE=1
KUBESFTP_SFTPD__ENABLE_SCP=1
KUBESFTP_SFTPD__KEYS='[{"private_key":"id_ed25519"}]'
KUBESFTP_SFTPD__ACTIONS__EXECUTE_ON=upload,download
KUBESFTP_DATA_PROVIDER__DRIVER=memory
KUBESFTP_HTTPD__BIND_PORT=0
`,
};

test('every file format loads the same config', async () => {
  const expected = defaultConfig();
  expected.sftpd.bind_port = 2200;
  expected.sftpd.upload_mode = 1;
  expected.sftpd.enable_scp = true;
  expected.sftpd.keys = [{ private_key: 'id_ed25519' }];
  expected.sftpd.actions.execute_on = ['upload', 'download'];
  expected.data_provider.driver = 'memory';
  expected.httpd.bind_port = 0;
  for (const [name, text] of Object.entries({
    ...SAME_CONFIG,
    'kubesftp.yml': SAME_CONFIG['kubesftp.yaml']!,
  })) {
    const dir = await dirWith({ [name]: text });
    const loaded = await loadConfig({ configDir: dir, env: {} });
    assert.deepEqual(loaded.config, expected, name);
    assert.equal(loaded.configFilePath, path.join(dir, name));
    assert.deepEqual(
      loaded.warnings.map((w) => w.key),
      ['sftpd.enable_scp'],
      name,
    );
  }
});

test('no config file gives defaults, and env overrides still apply', async () => {
  const dir = await dirWith({});
  const plain = await loadConfig({ configDir: dir, env: {} });
  assert.deepEqual(plain.config, defaultConfig());
  assert.equal(plain.configFilePath, undefined);
  const overridden = await loadConfig({
    configDir: dir,
    env: { KUBESFTP_SFTPD__BIND_PORT: '2222' },
  });
  assert.equal(overridden.config.sftpd.bind_port, 2222);
});

test('env overrides win over the file and the custom file name is used', async () => {
  const dir = await dirWith({ 'custom.yml': 'sftpd:\n  bind_port: 2200\n  idle_timeout: 5\n' });
  const loaded = await loadConfig({
    configDir: dir,
    configFile: 'custom',
    env: { KUBESFTP_SFTPD__BIND_PORT: '2300', KUBESFTP_CONFIG_DIR: '/ignored', PATH: '/bin' },
  });
  assert.equal(loaded.config.sftpd.bind_port, 2300);
  assert.equal(loaded.config.sftpd.idle_timeout, 5);
});

test('two config formats side by side is an error naming both', async () => {
  const dir = await dirWith({ 'kubesftp.json': '{}', 'kubesftp.toml': '' });
  const message = await loadError(loadConfig({ configDir: dir, env: {} }));
  assert.match(message, /kubesftp\.json, kubesftp\.toml/);
});

test('a bad file value names the key; a bad env value also names the variable', async () => {
  const dir = await dirWith({ 'kubesftp.json': '{"sftpd":{"bind_port":65536}}' });
  assert.match(
    await loadError(loadConfig({ configDir: dir, env: {} })),
    /sftpd\.bind_port: must be <= 65535/,
  );
  const empty = await dirWith({});
  const message = await loadError(
    loadConfig({ configDir: empty, env: { KUBESFTP_HTTPD__BIND_PORT: 'eighty' } }),
  );
  assert.match(message, /httpd\.bind_port: must be integer \(from KUBESFTP_HTTPD__BIND_PORT\)/);
});

test('unknown keys fail in files, env files and env variables', async () => {
  const yaml = await dirWith({ 'kubesftp.yaml': 'sftpd:\n  bind_prot: 22\n' });
  assert.match(
    await loadError(loadConfig({ configDir: yaml, env: {} })),
    /sftpd\.bind_prot: unknown key/,
  );
  const envFile = await dirWith({ 'kubesftp.env': 'SFTPD_BIND_PORT=22\n' });
  assert.match(await loadError(loadConfig({ configDir: envFile, env: {} })), /SFTPD_BIND_PORT/);
  const empty = await dirWith({});
  assert.match(
    await loadError(loadConfig({ configDir: empty, env: { KUBESFTP_SFTPD__BIND_PROT: '22' } })),
    /KUBESFTP_SFTPD__BIND_PROT/,
  );
});

test('syntax errors name the file', async () => {
  const dir = await dirWith({ 'kubesftp.json': '{"sftpd": ' });
  assert.match(await loadError(loadConfig({ configDir: dir, env: {} })), /kubesftp\.json/);
});

test('the bolt driver of the spec loads, as our kv driver does; an unknown driver is refused', async () => {
  const dir = await dirWith({});
  for (const driver of ['bolt', 'kv']) {
    const env = { KUBESFTP_DATA_PROVIDER__DRIVER: driver };
    const loaded = await loadConfig({ configDir: dir, env });
    assert.equal(loaded.config.data_provider.driver, driver);
  }
  const env = { KUBESFTP_DATA_PROVIDER__DRIVER: 'boltdb' };
  assert.match(await loadError(loadConfig({ configDir: dir, env })), /data_provider\.driver/);
});

test('relative paths resolve against the config dir, absolute and empty ones stay', async () => {
  const dir = await dirWith({
    'kubesftp.json': JSON.stringify({
      sftpd: { keys: [{ private_key: 'keys/id_rsa' }, { private_key: '/etc/ssh/id_ed25519' }] },
    }),
  });
  const loaded = await loadConfig({ configDir: path.relative(process.cwd(), dir), env: {} });
  assert.equal(loaded.configDir, dir);
  const paths = resolveConfigPaths(loaded.configDir, loaded.config);
  assert.deepEqual(paths.hostKeys, [path.join(dir, 'keys/id_rsa'), '/etc/ssh/id_ed25519']);
  assert.equal(paths.databaseFile, path.join(dir, 'kubesftp.db'));
  assert.equal(paths.loginBannerFile, '');
  assert.equal(resolveConfigPath(dir, '../x'), path.join(path.dirname(dir), 'x'));
});
