import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upload } from '../session/test-support.js';
import { CHECKSUM_COMMANDS } from './checksum.js';
import { COMMAND_TABLE } from './dispatcher.js';
import { SCP_COMMAND } from './scp/index.js';
import { SYSTEM_COMMANDS } from './system/index.js';
import { commandSetup } from './test-support.js';
import type { CommandDefinition } from './types.js';
import { WORKING_DIR_COMMANDS } from './working-dir.js';

test('a command not enabled is refused with a message, exit status 1 and a log record', async () => {
  const { exec, commands, completed } = commandSetup({ enabled: ['pwd'] });
  for (const line of ['md5sum a', 'ls -l', 'rm -rf /', 'constructor', '']) {
    const result = await exec(line);
    assert.equal(result.status, 1, line);
    assert.equal(result.stdout.length, 0);
    assert.match(result.stderr, /^kubesftp: .*\n$/, line);
  }
  assert.match((await exec('ls -l')).stderr, /ls: command not found or not enabled/);
  assert.equal(commands.filter((c) => c.sender === 'SSHCommand').length, 6);
  assert.equal(completed.length, 0, 'a refused command fires no action');
});

test('shell syntax is refused before any command runs', async () => {
  const { exec, inner } = commandSetup({ enabled: ['md5sum'] });
  await upload(inner, '/a', Buffer.from('x'));
  const result = await exec('md5sum a; md5sum a');
  assert.equal(result.status, 1);
  assert.equal(result.stdout.length, 0);
  assert.match(result.stderr, /operator ";" is not supported/);
});

test('every command is logged as SSHCommand with its path, and a success fires ssh_cmd', async () => {
  const { exec, inner, commands, completed } = commandSetup({ enabled: ['md5sum', 'pwd', 'cd'] });
  await upload(inner, '/f.txt', Buffer.from('data'));
  assert.equal((await exec('md5sum f.txt')).status, 0);
  assert.equal((await exec('md5sum missing')).status, 1);
  assert.equal((await exec('pwd')).stdout.toString(), '/\n');
  const logged = commands.filter((c) => c.sender === 'SSHCommand');
  assert.deepEqual(
    logged.map((c) => [c.ssh_command, c.file_path, c.protocol]),
    [
      ['md5sum f.txt', '/f.txt', 'SSH'],
      ['md5sum missing', '/missing', 'SSH'],
      ['pwd', '/', 'SSH'],
    ],
  );
  assert.deepEqual(
    completed.map((e) => [e.command, e.virtualPath]),
    [
      ['md5sum', '/f.txt'],
      ['pwd', '/'],
    ],
  );
});

test('cd succeeds and changes nothing; pwd always prints the home', async () => {
  const { exec } = commandSetup({ enabled: ['cd', 'pwd'] });
  assert.deepEqual(await exec('cd /somewhere/else'), {
    status: 0,
    stdout: Buffer.alloc(0),
    stderr: '',
  });
  assert.equal((await exec('pwd')).stdout.toString(), '/\n');
});

test('a command line runs under SCP for scp and SSH otherwise, refused ones included', () => {
  const { service } = commandSetup({ enabled: ['scp', 'md5sum'] });
  assert.equal(service.protocolOf('scp -f a.bin'), 'SCP');
  assert.equal(service.protocolOf('md5sum a.bin'), 'SSH');
  assert.equal(service.protocolOf('sha1sum a.bin'), 'SSH');
  assert.equal(service.protocolOf("scp -f 'unterminated"), 'SSH');
  assert.equal(service.protocolOf(''), 'SSH');
});

test("every command of every command module is in the dispatcher's table, under its protocol", () => {
  const modules: Record<string, Readonly<Record<string, CommandDefinition>>> = {
    scp: { scp: SCP_COMMAND },
    checksum: CHECKSUM_COMMANDS,
    'working-dir': WORKING_DIR_COMMANDS,
    system: SYSTEM_COMMANDS,
  };
  const listed = new Set<string>();
  for (const [module, commands] of Object.entries(modules)) {
    for (const [name, definition] of Object.entries(commands)) {
      listed.add(name);
      const dispatched = Object.hasOwn(COMMAND_TABLE, name)
        ? COMMAND_TABLE[name as keyof typeof COMMAND_TABLE]
        : undefined;
      assert.ok(dispatched, `${module}: ${name} is missing from the dispatcher`);
      assert.equal(dispatched.protocol, definition.protocol, `${module}: ${name}`);
    }
  }
  assert.deepEqual(Object.keys(COMMAND_TABLE).sort(), [...listed].sort());
});
