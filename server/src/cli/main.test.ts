import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { versionString } from '../version.js';
import { EXIT_USAGE, runCli } from './program.js';
import type { ServeOptions } from './options.js';
import type { PortableOptions } from './portable-options.js';

interface Run {
  code: number;
  served: ServeOptions[];
  portable: PortableOptions[];
  out: string;
  err: string;
}

async function run(argv: string[], env: Record<string, string> = {}): Promise<Run> {
  const result: Run = { code: -1, served: [], portable: [], out: '', err: '' };
  result.code = await runCli(argv, {
    env,
    runServe: (options) => {
      result.served.push(options);
      return Promise.resolve();
    },
    runPortable: (options) => {
      result.portable.push(options);
      return Promise.resolve();
    },
    writeOut: (text) => (result.out += text),
    writeErr: (text) => (result.err += text),
  });
  return result;
}

const DEFAULTS: ServeOptions = {
  configDir: '.',
  configFile: 'kubesftp',
  logFilePath: 'kubesftp.log',
  logMaxSize: 10,
  logMaxBackups: 5,
  logMaxAge: 28,
  logCompress: false,
  logVerbose: true,
};

test('serve without flags uses the spec defaults', async () => {
  const result = await run(['serve']);
  assert.equal(result.code, 0);
  assert.deepEqual(result.served, [DEFAULTS]);
});

test('every flag is parsed into typed options', async () => {
  const result = await run([
    'serve',
    '--config-dir',
    '/etc/kubesftp',
    '--config-file=custom',
    '--log-file-path',
    '',
    '--log-max-size',
    '1',
    '--log-max-backups',
    '0',
    '--log-max-age=7',
    '--log-compress',
    '--log-verbose=false',
  ]);
  assert.equal(result.code, 0, result.err);
  assert.deepEqual(result.served, [
    {
      configDir: '/etc/kubesftp',
      configFile: 'custom',
      logFilePath: '',
      logMaxSize: 1,
      logMaxBackups: 0,
      logMaxAge: 7,
      logCompress: true,
      logVerbose: false,
    },
  ]);
});

test('env variables apply when a flag is absent, and flags win over them', async () => {
  const env = {
    KUBESFTP_CONFIG_DIR: '/data',
    KUBESFTP_CONFIG_FILE: 'fromenv',
    KUBESFTP_LOG_FILE_PATH: '/var/log/kubesftp.log',
    KUBESFTP_LOG_MAX_SIZE: '20',
    KUBESFTP_LOG_MAX_BACKUPS: '3',
    KUBESFTP_LOG_MAX_AGE: '1',
    KUBESFTP_LOG_COMPRESS: 'TRUE',
    KUBESFTP_LOG_VERBOSE: '0',
  };
  const fromEnv = await run(['serve'], env);
  assert.deepEqual(fromEnv.served, [
    {
      configDir: '/data',
      configFile: 'fromenv',
      logFilePath: '/var/log/kubesftp.log',
      logMaxSize: 20,
      logMaxBackups: 3,
      logMaxAge: 1,
      logCompress: true,
      logVerbose: false,
    },
  ]);
  const flagWins = await run(['serve', '--config-dir', '/flag', '--log-verbose', '1'], env);
  assert.equal(flagWins.served[0]?.configDir, '/flag');
  assert.equal(flagWins.served[0]?.logVerbose, true);
  assert.equal(flagWins.served[0]?.configFile, 'fromenv');
  const emptyPath = await run(['serve'], { KUBESFTP_LOG_FILE_PATH: '' });
  assert.equal(emptyPath.served[0]?.logFilePath, '');
});

test('operator takes its flags, with environment variables for those not given', async () => {
  const ran: unknown[] = [];
  const code = await runCli(['operator', '--namespace', 'tenants', '--leader-elect'], {
    env: {
      KUBESFTP_OPERATOR_DEFAULT_IMAGE: 'registry.example/kubesftp:1',
      KUBESFTP_OPERATOR_RESYNC_PERIOD: '30',
    },
    runServe: () => Promise.resolve(),
    runOperator: (options) => {
      ran.push(options);
      return Promise.resolve();
    },
  });
  assert.equal(code, 0);
  assert.deepEqual(ran, [
    {
      kubeconfig: '',
      namespace: 'tenants',
      leaderElect: true,
      leaderElectionNamespace: '',
      metricsBindAddress: '0.0.0.0:8080',
      defaultImage: 'registry.example/kubesftp:1',
      resyncPeriod: 30,
      userWorkers: 16,
      passwordHashIterations: 600000,
      deletionTimeout: 300,
      logVerbose: false,
    },
  ]);
});

test('bad flags and bad env values exit 2 with a clear message and never serve', async () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['serve', '--bogus'], {}, /unknown option '--bogus'/],
    [['serve', '--log-max-size', 'ten'], {}, /--log-max-size <MB>.*expected a whole number/],
    [['serve', '--log-max-age=-1'], {}, /expected a whole number/],
    [['serve', '--log-compress=yes'], {}, /expected 1, true, 0 or false/],
    [
      ['serve'],
      { KUBESFTP_LOG_VERBOSE: 'maybe' },
      /KUBESFTP_LOG_VERBOSE="maybe": expected 1, true, 0 or false/,
    ],
    [['serve'], { KUBESFTP_LOG_MAX_BACKUPS: '2.5' }, /KUBESFTP_LOG_MAX_BACKUPS/],
    [['frobnicate'], {}, /unknown command 'frobnicate'/],
    [['operator', '--resync-period', '0'], {}, /expected a whole number >= 1/],
    [['operator'], { KUBESFTP_OPERATOR_LEADER_ELECT: 'perhaps' }, /KUBESFTP_OPERATOR_LEADER_ELECT/],
    [['portable', '--s3-bucket', 'b'], {}, /--s3-\* flags need --fs-provider 1/],
    [['portable', '-f', '2'], {}, /expected 0 \(local\) or 1 \(S3\)/],
    [['portable', '-s', '70000'], {}, /--sftpd-port: at most 65535/],
  ];
  for (const [argv, env, message] of cases) {
    const result = await run(argv, env);
    assert.equal(result.code, EXIT_USAGE, argv.join(' '));
    assert.match(result.err, message, argv.join(' '));
    assert.deepEqual(result.served, [], argv.join(' '));
    assert.deepEqual(result.portable, [], argv.join(' '));
  }
});

test('portable without flags takes the spec defaults', async () => {
  const result = await run(['portable']);
  assert.equal(result.code, 0, result.err);
  const [defaults] = result.portable;
  assert.deepEqual(
    [defaults?.directory, defaults?.username, defaults?.password, defaults?.sftpdPort],
    ['.', '', '', 0],
  );
  assert.deepEqual(defaults?.permissions, ['list', 'download']);
  assert.deepEqual(defaults?.sshCommands, ['md5sum', 'sha1sum', 'cd', 'pwd']);
  assert.equal(defaults?.advertiseService, false);
});

test('portable: repeated and comma-separated lists, S3 flags, the S3 secret from env', async () => {
  const result = await run(
    [
      'portable',
      '-g',
      'list,upload',
      '-g',
      'delete',
      '-k',
      'ssh-ed25519 A',
      '-k',
      'ssh-rsa B',
    ].concat(['-f', '1', '--s3-bucket', 'b', '--s3-force-path-style', '-S', '-s', '2022']),
    { KUBESFTP_PORTABLE_S3_ACCESS_SECRET: 'from-env' },
  );
  assert.equal(result.code, 0, result.err);
  const [given] = result.portable;
  assert.deepEqual(given?.permissions, ['list', 'upload', 'delete']);
  assert.deepEqual(given?.publicKeys, ['ssh-ed25519 A', 'ssh-rsa B']);
  assert.deepEqual(
    [given?.fsProvider, given?.s3.bucket, given?.s3.access_secret, given?.s3.force_path_style],
    [1, 'b', 'from-env', true],
  );
  assert.deepEqual([given?.advertiseService, given?.sftpdPort], [true, 2022]);
});

test('--version and -v print the product name and build version', async () => {
  for (const flag of ['--version', '-v']) {
    const result = await run([flag]);
    assert.equal(result.code, 0);
    assert.equal(result.out, `kubesftp ${versionString()}\n`);
    assert.match(result.out, /^kubesftp \d+\.\d+\.\d+/);
  }
});

test('the compiled entry point runs as a process', async () => {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [main, '--version'], {
    timeout: 10_000,
  });
  assert.equal(stdout, `kubesftp ${versionString()}\n`);
  await assert.rejects(
    promisify(execFile)(process.execPath, [main, 'serve', '--nope'], { timeout: 10_000 }),
    {
      code: EXIT_USAGE,
    },
  );
});
