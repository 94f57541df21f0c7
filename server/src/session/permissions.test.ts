import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Permissions } from './permissions.js';

test('the deepest configured directory decides, files are judged by their parent', () => {
  const perms = new Permissions({
    '/': ['list', 'download'],
    '/in': ['*'],
    '/in/ro': ['list'],
    '/pub/': ['upload'],
  });
  assert.equal(perms.allowedIn('list', '/'), true);
  assert.equal(perms.allowedIn('upload', '/'), false);
  assert.equal(perms.allowedFor('upload', '/in/a.txt'), true);
  assert.equal(perms.allowedFor('delete', '/in/sub/deeper/a.txt'), true);
  assert.equal(perms.allowedFor('upload', '/in/ro/a.txt'), false);
  assert.equal(perms.allowedIn('list', '/in/ro'), true);
  // "/inbox" is not inside "/in".
  assert.equal(perms.allowedFor('upload', '/inbox/a.txt'), false);
  // A trailing slash in the configuration is the same directory.
  assert.equal(perms.allowedFor('upload', '/pub/a.txt'), true);
  assert.equal(perms.allowedFor('download', '/pub/a.txt'), false);
});

test('no permissions means nothing is allowed', () => {
  const perms = new Permissions({});
  assert.equal(perms.allowedIn('list', '/'), false);
});

test('a permission is granted everywhere only when "/" and every rule grant it', () => {
  const open = new Permissions({ '/': ['*'], '/pub': ['list', 'download', 'upload'] });
  assert.equal(open.grantsEverywhere(['list', 'download']), true);
  assert.equal(open.grantsEverywhere(['list', 'delete']), false, '/pub does not grant delete');
  assert.equal(new Permissions({ '/in': ['*'] }).grantsEverywhere(['list']), false);
  assert.equal(new Permissions({ '/': ['list'] }).grantsEverywhere([]), true);
});
