import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { readBuildInfo, VERSION, versionString, writeBuildInfo } from './version.js';

test('the version comes from package.json', async () => {
  const pkg = JSON.parse(
    await readFile(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as {
    version: string;
  };
  assert.equal(VERSION, pkg.version);
});

test('the version string joins version, commit and date, and falls back to the version', () => {
  assert.equal(
    versionString({ commit: 'abc1234', date: '20240501' }),
    `${VERSION}-abc1234-20240501`,
  );
  assert.equal(versionString({ commit: '', date: '20240501' }), `${VERSION}-20240501`);
  assert.equal(versionString(null), VERSION);
});

test('build info is written from git and the clock, and read back', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kubesftp-version-'));
  try {
    const url = pathToFileURL(path.join(dir, 'build-info.json'));
    const written = writeBuildInfo(new Date(Date.UTC(2024, 4, 1, 23, 0, 0)), url);
    let head = '';
    try {
      head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    } catch {
      // Outside a git checkout the commit is empty, which writeBuildInfo must also produce.
    }
    assert.deepEqual(written, { commit: head, date: '20240501' });
    assert.deepEqual(readBuildInfo(url), written);
    assert.equal(readBuildInfo(pathToFileURL(path.join(dir, 'missing.json'))), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
