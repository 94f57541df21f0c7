import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { defenderSettingsFrom } from '../defender/settings.js';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { parseMaxStartups } from '../ssh/connection-gate.js';
import { renderConfigDocs } from './docs.js';
import { configLeaves } from './leaves.js';
import { NOT_ENFORCED } from './schema.js';
import { defaultConfig, validateConfig } from './validate.js';
import { configWarnings } from './warnings.js';

// The default configuration as the spec publishes it (with our product name for the database).
const SPEC_DEFAULTS = {
  sftpd: {
    bind_port: 2022,
    bind_address: '',
    idle_timeout: 15,
    max_auth_tries: 0,
    umask: '0022',
    banner: '',
    upload_mode: 0,
    actions: { execute_on: [], command: '', http_notification_url: '' },
    keys: [],
    enable_scp: false,
    kex_algorithms: [],
    ciphers: [],
    macs: [],
    login_banner_file: '',
    setstat_mode: 0,
    enabled_ssh_commands: ['md5sum', 'sha1sum', 'cd', 'pwd'],
    keyboard_interactive_auth_program: '',
  },
  data_provider: {
    driver: 'sqlite',
    name: 'kubesftp.db',
    host: '',
    port: 5432,
    username: '',
    password: '',
    sslmode: 0,
    connection_string: '',
    users_table: 'users',
    manage_users: 1,
    track_quota: 2,
    pool_size: 0,
    users_base_dir: '',
    actions: { execute_on: [], command: '', http_notification_url: '' },
    external_auth_program: '',
    external_auth_scope: 0,
  },
  httpd: {
    bind_port: 8080,
    bind_address: '127.0.0.1',
    templates_path: 'templates',
    static_files_path: 'static',
    backups_path: 'backups',
  },
};

const OUR_ADDITIONS = {
  sftpd: {
    login_grace_time: 120,
    channel_window_size: 2 * 1024 * 1024,
    shutdown_grace_period: 30,
    host_key_types: ['ed25519', 'rsa', 'ecdsa'],
    max_startups: '10:30:100',
    max_per_host_connections: 20,
    workers: 1,
    max_total_connections: 0,
    max_channels_per_connection: 10,
    max_open_handles: 256,
    max_pending_bytes: 16 * 1024 * 1024,
    chown_any_id: false,
  },
  data_provider: { session_expiry: 30 },
  httpd: { admin_token_ttl: 3600, token_rate_limit: 20 },
  defender: {
    enabled: true,
    driver: 'provider',
    ban_time: 30,
    ban_time_increment: 50,
    threshold: 15,
    score_invalid: 2,
    score_valid: 1,
    score_limit_exceeded: 3,
    score_no_auth: 0,
    observation_time: 30,
    entries_soft_limit: 100,
    entries_hard_limit: 150,
    safe_list: [],
    block_list: [],
  },
  secrets: { master_key_file: '', master_key: '' },
  s3: { abandoned_upload_timeout: 3600 },
};

test('defaults equal the spec defaults plus our documented additions', () => {
  const expected = {
    sftpd: { ...SPEC_DEFAULTS.sftpd, ...OUR_ADDITIONS.sftpd },
    data_provider: { ...SPEC_DEFAULTS.data_provider, ...OUR_ADDITIONS.data_provider },
    httpd: { ...SPEC_DEFAULTS.httpd, ...OUR_ADDITIONS.httpd },
    defender: OUR_ADDITIONS.defender,
    secrets: OUR_ADDITIONS.secrets,
    s3: OUR_ADDITIONS.s3,
  };
  assert.deepEqual(defaultConfig(), expected);
});

test('the default connection bounds and defender settings are usable as they are', () => {
  const config = defaultConfig();
  assert.deepEqual(parseMaxStartups(config.sftpd.max_startups), { start: 10, rate: 30, full: 100 });
  const defender = defenderSettingsFrom(config.defender);
  assert.equal(defender.policy.banMs, 30 * 60_000);
  assert.deepEqual(defender.entries, { softLimit: 100, hardLimit: 150 });
});

test('every leaf has a description and a default', () => {
  for (const leaf of configLeaves()) {
    assert.ok(
      typeof leaf.schema.description === 'string' && leaf.schema.description.length > 10,
      leaf.key,
    );
    assert.notEqual(leaf.schema.default, undefined, leaf.key);
  }
});

test('the defaults object is fresh each time and the spec config validates unchanged', () => {
  const a = defaultConfig();
  a.sftpd.enabled_ssh_commands.push('scp');
  assert.deepEqual(defaultConfig().sftpd.enabled_ssh_commands, ['md5sum', 'sha1sum', 'cd', 'pwd']);
  const spec = structuredClone(SPEC_DEFAULTS) as Record<string, unknown>;
  validateConfig(spec);
});

function invalidMessage(tree: Record<string, unknown>): string {
  try {
    validateConfig(tree);
  } catch (err) {
    assert.ok(isKubesftpError(err, ErrorCode.CONFIG_INVALID));
    return err.message;
  }
  assert.fail('expected CONFIG_INVALID');
}

test('a bad value names the key path and the reason', () => {
  assert.match(
    invalidMessage({ sftpd: { bind_port: 70000 } }),
    /sftpd\.bind_port: must be <= 65535/,
  );
  assert.match(
    invalidMessage({ sftpd: { upload_mode: 3 } }),
    /sftpd\.upload_mode: must be one of 0, 1, 2/,
  );
  assert.match(invalidMessage({ sftpd: { umask: '999' } }), /sftpd\.umask: must match pattern/);
  assert.match(
    invalidMessage({ sftpd: { keys: [{ private_key: '' }] } }),
    /sftpd\.keys\[0\]\.private_key: must NOT have fewer than 1 characters/,
  );
  assert.match(invalidMessage({ httpd: { bind_port: 'x' } }), /httpd\.bind_port: must be integer/);
  assert.match(
    invalidMessage({ sftpd: { enabled_ssh_commands: ['md5sum', 'rm'] } }),
    /sftpd\.enabled_ssh_commands\[1\]: must be one of/,
  );
});

test('unknown keys fail and are named, at every depth', () => {
  assert.match(invalidMessage({ sftpd: { bind_prot: 1 } }), /sftpd\.bind_prot: unknown key/);
  assert.match(invalidMessage({ ftpd: {} }), /ftpd: unknown key/);
  assert.match(
    invalidMessage({ sftpd: { actions: { on: [] } } }),
    /sftpd\.actions\.on: unknown key/,
  );
});

test('non-default deprecated and not-enforced keys are reported, defaults are not', () => {
  assert.deepEqual(configWarnings(defaultConfig()), []);
  const config = validateConfig({
    sftpd: { enable_scp: true, actions: { execute_on: ['upload'] } },
    data_provider: { external_auth_program: '/bin/auth' },
  });
  const got = configWarnings(config).map((w) => `${w.reason}:${w.key}`);
  assert.deepEqual(got, [
    'deprecated:sftpd.enable_scp',
    'not_enforced:data_provider.external_auth_program',
  ]);
});

test('every not-enforced key says so in the generated docs', () => {
  const docs = renderConfigDocs();
  for (const leaf of configLeaves().filter((l) => l.schema[NOT_ENFORCED] === true)) {
    const line = docs.split('\n').find((l) => l.includes(`\`${leaf.envName}\``));
    assert.match(line ?? '', /Not enforced yet/, leaf.key);
  }
});

test('docs/config.md is in sync with the schema', async () => {
  // dist/server/src/config/ -> repository root
  const committed = await readFile(new URL('../../../../docs/config.md', import.meta.url), 'utf8');
  assert.equal(
    committed,
    renderConfigDocs(),
    'docs/config.md is stale: run `node dist/server/src/config/gen-docs.js`',
  );
  for (const leaf of configLeaves()) assert.ok(committed.includes(`\`${leaf.envName}\``), leaf.key);
});
