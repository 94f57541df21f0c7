/**
 * The real OpenSSH `sftp` client drives our engine over stdio (`sftp -D`), with no sshd, through
 * every command that maps to a request or extension we serve. Files are checked by sha256.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SFTP = '/usr/bin/sftp';
const SERVER = fileURLToPath(new URL('./stdio-server.js', import.meta.url));
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

interface BatchResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runBatch(dir: string, commands: string[]): Promise<BatchResult> {
  const batch = join(dir, `batch-${Date.now()}`);
  return writeFile(batch, `${commands.join('\n')}\n`).then(
    () =>
      new Promise((resolve) => {
        execFile(
          SFTP,
          ['-b', batch, '-D', `${process.execPath} ${SERVER}`],
          {
            cwd: dir,
            timeout: 60_000,
            env: { ...process.env, KUBESFTP_TEST_SFTP_LOG: join(dir, 'server.log') },
          },
          (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
            resolve({ code, stdout, stderr });
          },
        );
      }),
  );
}

/** The output lines printed for one batch command, up to the next prompt. */
function outputOf(stdout: string, command: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.indexOf(`sftp> ${command}`);
  assert.notEqual(start, -1, `command "${command}" not echoed`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((line) => line.startsWith('sftp> '));
  return end < 0 ? rest : rest.slice(0, end);
}

const available = existsSync(SFTP);
if (!available) console.log(`# skipping OpenSSH client tests: ${SFTP} is not installed`);

describe(
  'OpenSSH sftp client against the engine',
  { skip: available ? false : `${SFTP} missing` },
  () => {
    let dir = '';
    const big = randomBytes(3 * 1024 * 1024 + 4321);
    const small = Buffer.from('small file\n');

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kubesftp-openssh-'));
      await writeFile(join(dir, 'big.bin'), big);
      await writeFile(join(dir, 'small.txt'), small);
      await writeFile(join(dir, 'big.head'), big.subarray(0, 1024 * 1024));
      await writeFile(join(dir, 'reget.bin'), big.subarray(0, 700 * 1024));
    });

    after(async () => {
      if (dir !== '') await rm(dir, { recursive: true, force: true });
    });

    it('transfers, renames, links, copies and removes through the real client', async () => {
      const result = await runBatch(dir, [
        'mkdir up',
        'cd up',
        'put big.bin',
        'get big.bin big.copy',
        'put big.head resumed.bin',
        'reput big.bin resumed.bin',
        'get resumed.bin resumed.copy',
        'reget resumed.bin reget.bin',
        'put small.txt small.txt',
        'rename big.bin moved.bin',
        'rename small.txt moved.bin',
        'get moved.bin renamed.copy',
        'ln -s moved.bin sym',
        'ln moved.bin hard',
        'chmod 600 hard',
        'get sym sym.copy',
        'cp moved.bin copied.bin',
        'get copied.bin copied.copy',
        'ls -l',
        'ls -la /up',
        'df -h',
        'rm sym',
        'rm hard',
        'rm copied.bin',
        'rm resumed.bin',
        'rm moved.bin',
        'ls',
        'cd ..',
        'rmdir up',
        'ls -a',
      ]);
      assert.equal(result.code, 0, `sftp failed:\n${result.stdout}\n${result.stderr}`);
      const local = async (name: string) => sha256(await readFile(join(dir, name)));
      assert.equal(await local('big.copy'), sha256(big));
      assert.equal(await local('resumed.copy'), sha256(big), 'reput completed the partial upload');
      assert.equal(await local('reget.bin'), sha256(big), 'reget completed the partial download');
      assert.equal(await local('renamed.copy'), sha256(small), 'posix-rename replaced the target');
      assert.equal(await local('sym.copy'), sha256(small));
      assert.equal(await local('copied.copy'), sha256(small), 'copy-data copied the file');

      const listing = outputOf(result.stdout, 'ls -l');
      assert.ok(
        listing.some((line) => /^-rw------- .* hard$/.test(line)),
        listing.join('\n'),
      );
      assert.ok(
        listing.some((line) => /^l[rwx-]{9} .* sym$/.test(line)),
        listing.join('\n'),
      );
      assert.ok(
        listing.some((line) =>
          new RegExp(`^-rw-r--r-- .* ${big.length} .* resumed.bin$`).test(line),
        ),
      );
      const long = outputOf(result.stdout, 'ls -la /up');
      assert.ok(
        long.some((line) => line.endsWith(' /up/.')) &&
          long.some((line) => line.endsWith(' /up/..')),
      );
      assert.match(outputOf(result.stdout, 'df -h').join('\n'), /Size\s+Used\s+Avail/);
      assert.deepEqual(
        outputOf(result.stdout, 'ls').filter((line) => line.trim() !== ''),
        [],
      );
      assert.deepEqual(
        outputOf(result.stdout, 'ls -a')
          .flatMap((line) => line.trim().split(/\s+/))
          .filter((name) => name !== ''),
        ['.', '..'],
      );
    });

    it('reports a failing command with the server status', async () => {
      const result = await runBatch(dir, ['get no-such-file here', 'ls']);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /not found|No such file/);
      assert.equal(result.stdout.includes('sftp> ls'), false, 'batch mode stops at the failure');
    });
  },
);
