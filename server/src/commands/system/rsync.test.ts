import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKubesftpError } from '../../errors.js';
import { parseShellWords } from '../shell-words.js';
import { rsyncInvocation } from './rsync.js';

const invocation = (line: string) => rsyncInvocation(parseShellWords(line));
const refusedBy = (line: string, pattern: RegExp): void =>
  assert.throws(
    () => invocation(line),
    (err: unknown) => isKubesftpError(err, 'PERMISSION_DENIED') && pattern.test(err.message),
    line,
  );

test('what rsync clients send passes, paths made relative, links option per permission', () => {
  const upload = invocation('--server -vlogDtpre.iLsfxCIvu --delete . /dst\\ dir/');
  assert.equal(upload.access, 'write');
  assert.deepEqual(upload.paths, ['dst dir/']);
  assert.deepEqual(upload.args(true), [
    '--server',
    '-vlogDtpre.iLsfxCIvu',
    '--delete',
    '--chmod=ugo-st',
    '--safe-links',
    '.',
    'dst dir/',
  ]);
  assert.ok(upload.args(false).includes('--munge-links'));
  const download = invocation('--server --sender -vlogDtpre.iLsfxCIvu . ~/src');
  assert.equal(download.access, 'read');
  assert.deepEqual(download.paths, ['src']);
  assert.equal(invocation('--server --sender --remove-source-files -r . a').access, 'write');
  assert.deepEqual(invocation('--server -r --partial-dir=/.part . a').args(true).slice(0, 3), [
    '--server',
    '-r',
    '--partial-dir=.part',
  ]);
});

test('options that run programs, follow links or name files are refused', () => {
  refusedBy('--server -vlogDtpr -e ssh . a', /-e is not allowed: it runs a program/);
  refusedBy('--server -vlogDtpre sh . a', /-e is not allowed/);
  refusedBy('--server --rsh=sh . a', /--rsh is not allowed/);
  refusedBy('--server --rsync-path=evil . a', /--rsync-path is not allowed/);
  refusedBy('--server --copy-unsafe-links . a', /follows symlinks out of the tree/);
  refusedBy('--server -rL . a', /-L is not allowed/);
  refusedBy('--server --copy-links . a', /follows symlinks/);
  refusedBy('--server -rK . a', /-K is not allowed/);
  refusedBy('--server --log-file=/tmp/x . a', /writes a file the client names/);
  refusedBy('--server --files-from=/etc/passwd . a', /reads a file the client names/);
  refusedBy('--server -s . a', /hides the paths/);
  refusedBy('--server --protect-args . a', /hides the paths/);
  refusedBy('--server -M--log-file=x . a', /passes options past/);
  refusedBy('--server -rA . a', /sets ACLs/);
  refusedBy('--server --daemon . a', /starts a daemon/);
  refusedBy('--server --frobnicate . a', /not supported/);
  refusedBy('--server --link-dest=../../other . a', /".." is not allowed/);
  refusedBy('--daemon --server . a', /must start with --server/);
  refusedBy('-e sh -c id', /must start with --server/);
});

test('paths never leave the home: .., wildcards that match .., ~user', () => {
  refusedBy('--server --sender -r . ../x', /".." is not allowed/);
  refusedBy('--server --sender -r . /a/../../x', /".." is not allowed/);
  refusedBy('--server --sender -r . .*/etc', /wildcard after a leading dot/);
  refusedBy('--server --sender -r . ~root/.ssh', /leading "~"/);
  assert.deepEqual(invocation('--server --sender -r . /').paths, ['.']);
  assert.deepEqual(invocation('--server --sender -r . *.txt').paths, ['*.txt']);
});
