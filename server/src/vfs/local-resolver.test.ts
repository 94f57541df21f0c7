import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { LocalBackend, LocalVfs } from './local.js';
import { RootResolver, type LocalLocation } from './local-resolver.js';
import { flags, READ, sha256 } from './test-support.js';
import { MAX_SYMLINK_HOPS, toVirtualPath } from './virtual-path.js';

/** The host directory a location's descriptor holds, and the host path of its entry. */
async function hostOf(location: LocalLocation): Promise<string> {
  const dir = await readlink(`/proc/self/fd/${location.dir.fd}`);
  return location.name === '.' ? dir : path.join(dir, location.name);
}

async function locateHost(
  resolver: RootResolver,
  virtualPath: string,
  followFinal: boolean,
): Promise<string> {
  const location = await resolver.locate(virtualPath, { followFinal });
  try {
    return await hostOf(location);
  } finally {
    location.release();
  }
}

async function readWhole(vfs: LocalVfs, virtualPath: string): Promise<Buffer> {
  const file = await vfs.open(virtualPath, READ);
  try {
    const parts: Buffer[] = [];
    for (let position = 0; ;) {
      const chunk = await file.read(65536, position);
      if (chunk.length === 0) break;
      parts.push(chunk);
      position += chunk.length;
    }
    return Buffer.concat(parts);
  } finally {
    await file.close();
  }
}

function rejectsWith(code: ErrorCode): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isKubesftpError(err), `expected a KubesftpError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

describe('toVirtualPath', () => {
  const cases: Array<[string, string | undefined, string]> = [
    ['../../etc/passwd', undefined, '/etc/passwd'],
    ['/../..', undefined, '/'],
    ['a/../../b', undefined, '/b'],
    ['//a///b/./c/', undefined, '/a/b/c'],
    ['', '/home/dir', '/home/dir'],
    ['.', '/x', '/x'],
    ['../z', '/x/y', '/x/z'],
    ['../../../../z', '/x/y', '/z'],
    ['/abs/path', '/ignored', '/abs/path'],
    ['..', '/', '/'],
    ['...', '/', '/...'],
  ];
  for (const [input, cwd, expected] of cases) {
    it(`maps ${JSON.stringify(input)} (cwd ${cwd ?? '/'}) inside the root`, () => {
      assert.equal(toVirtualPath(input, cwd), expected);
    });
  }

  it('refuses a NUL byte in the path or the cwd', () => {
    assert.throws(() => toVirtualPath('a\0b'), rejectsWith(ErrorCode.INVALID_ARGUMENT));
    assert.throws(() => toVirtualPath('a', '/x\0'), rejectsWith(ErrorCode.INVALID_ARGUMENT));
  });

  it('never yields a path with a ".." segment for generated hostile input', () => {
    const pieces = ['..', '.', '', 'a', '/', '//', 'b..', '..c'];
    for (let i = 0; i < 2000; i += 1) {
      const input = Array.from(
        { length: 1 + (i % 7) },
        (_, k) => pieces[(i * 7 + k * 3) % pieces.length],
      ).join(i % 2 === 0 ? '/' : '');
      const result = toVirtualPath(input, '/c/d');
      assert.ok(result.startsWith('/'));
      assert.ok(!result.split('/').includes('..'), `${input} -> ${result}`);
      assert.equal(path.posix.normalize(result), result);
    }
  });
});

describe('RootResolver confinement', () => {
  let base: string;
  let root: string;
  let outside: string;
  let secretHash: string;
  let resolver: RootResolver;
  let vfs: LocalVfs;

  before(async () => {
    base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'kubesftp-resolver-')));
    root = path.join(base, 'home');
    outside = path.join(base, 'outside');
    await mkdir(path.join(root, 'sub', 'deeper'), { recursive: true });
    await mkdir(outside);
    const secret = randomBytes(4096);
    secretHash = sha256(secret);
    await writeFile(path.join(outside, 'secret.txt'), secret);
    await writeFile(path.join(root, 'inside.txt'), 'inside\n');
    await writeFile(path.join(root, 'sub', 'file.txt'), 'sub file\n');
    // A decoy where a chroot would send "../outside/secret.txt".
    await mkdir(path.join(root, 'outside'));
    await writeFile(path.join(root, 'outside', 'secret.txt'), 'decoy\n');

    await symlink('/etc', path.join(root, 'abs-etc'));
    await symlink(path.join(outside, 'secret.txt'), path.join(root, 'abs-secret'));
    await symlink(outside, path.join(root, 'abs-outside-dir'));
    await symlink('../outside/secret.txt', path.join(root, 'rel-secret'));
    await symlink('../../../../../../../../..', path.join(root, 'sub', 'deeper', 'up-all'));
    await symlink('missing-target', path.join(root, 'dangling'));
    await symlink('/nowhere/deep/file', path.join(root, 'dangling-deep'));
    await symlink('c2', path.join(root, 'c1'));
    await symlink('sub/c3', path.join(root, 'c2'));
    await symlink('../inside.txt', path.join(root, 'sub', 'c3'));
    await symlink('out2', path.join(root, 'out1'));
    await symlink('../outside', path.join(root, 'out2'));
    await symlink('loop-b', path.join(root, 'loop-a'));
    await symlink('loop-a', path.join(root, 'loop-b'));
    await symlink('self', path.join(root, 'self'));
    await symlink('sub', path.join(root, 'dir-link'));
    await symlink('inside.txt', path.join(root, 'file-link'));
    resolver = new RootResolver(root);
    vfs = new LocalVfs({ root });
  });

  after(async () => {
    await resolver.close();
    await vfs.close();
    await rm(base, { recursive: true, force: true });
  });

  const hostile = [
    '../../outside/secret.txt',
    '/../../outside/secret.txt',
    `${'../'.repeat(20)}outside/secret.txt`,
    'sub/../../outside/secret.txt',
    'abs-secret',
    'abs-outside-dir/secret.txt',
    'rel-secret',
    'out1/secret.txt',
    'sub/deeper/up-all/outside/secret.txt',
    'abs-etc/passwd',
    'dir-link/../../outside/secret.txt',
  ];

  it('resolves hostile paths to locations inside the root only', async () => {
    for (const clientPath of hostile) {
      for (const followFinal of [true, false]) {
        try {
          const hostPath = await locateHost(resolver, toVirtualPath(clientPath), followFinal);
          assert.ok(
            hostPath === root || hostPath.startsWith(`${root}${path.sep}`),
            `${clientPath} -> ${hostPath}`,
          );
        } catch (err) {
          assert.ok(isKubesftpError(err), `${clientPath}: ${String(err)}`);
        }
      }
    }
  });

  it('never returns the content of a file outside the root', async () => {
    for (const clientPath of hostile) {
      try {
        const data = await readWhole(vfs, toVirtualPath(clientPath));
        assert.notEqual(sha256(data), secretHash, `${clientPath} leaked the secret`);
      } catch (err) {
        assert.ok(isKubesftpError(err), `${clientPath}: ${String(err)}`);
      }
    }
  });

  it('reads absolute and relative planted links as if chrooted', async () => {
    // "../outside/secret.txt" from the root stays at the root: it is the decoy.
    assert.equal((await readWhole(vfs, '/rel-secret')).toString(), 'decoy\n');
    assert.equal((await readWhole(vfs, '/out1/secret.txt')).toString(), 'decoy\n');
    assert.equal((await readWhole(vfs, '/sub/deeper/up-all/inside.txt')).toString(), 'inside\n');
    // The host path of the outside file, read from the root, does not exist in the root.
    await assert.rejects(vfs.stat('/abs-secret'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    await assert.rejects(vfs.stat('/abs-etc/passwd'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    assert.equal(await vfs.realpath('/sub/deeper/up-all'), '/');
  });

  it('follows chained links and a directory link in the middle of a path', async () => {
    assert.equal(await vfs.realpath('/c1'), '/inside.txt');
    assert.equal((await readWhole(vfs, '/c1')).toString(), 'inside\n');
    assert.equal(await vfs.realpath('/dir-link/file.txt'), '/sub/file.txt');
    assert.equal((await readWhole(vfs, '/dir-link/file.txt')).toString(), 'sub file\n');
    assert.equal(await locateHost(resolver, '/dir-link', false), path.join(root, 'dir-link'));
    assert.equal(await locateHost(resolver, '/dir-link', true), path.join(root, 'sub'));
  });

  it('resolves a dangling link to a creatable path inside the root', async () => {
    assert.equal(await locateHost(resolver, '/dangling', true), path.join(root, 'missing-target'));
    await assert.rejects(
      resolver.locate('/dangling-deep', { followFinal: true }),
      rejectsWith(ErrorCode.NO_SUCH_FILE),
    );
    assert.equal(await locateHost(resolver, '/new-file', true), path.join(root, 'new-file'));
    await assert.rejects(
      resolver.locate('/missing-dir/new-file', { followFinal: true }),
      rejectsWith(ErrorCode.NO_SUCH_FILE),
    );
    await assert.rejects(
      resolver.locate('/inside.txt/below', { followFinal: true }),
      rejectsWith(ErrorCode.NOT_A_DIRECTORY),
    );
  });

  it('stops link loops with NO_SUCH_FILE and allows a chain of exactly the hop limit', async () => {
    for (const loop of ['/loop-a', '/self', '/loop-a/x']) {
      await assert.rejects(
        resolver.locate(loop, { followFinal: true }),
        rejectsWith(ErrorCode.NO_SUCH_FILE),
      );
    }
    assert.equal(await locateHost(resolver, '/loop-a', false), path.join(root, 'loop-a'));
    const chainDir = path.join(root, 'chain');
    await mkdir(chainDir);
    await writeFile(path.join(chainDir, 'end.txt'), 'end\n');
    for (let i = 0; i <= MAX_SYMLINK_HOPS; i += 1) {
      const next = i === MAX_SYMLINK_HOPS ? 'end.txt' : `l${i + 1}`;
      await symlink(next, path.join(chainDir, `l${i}`));
    }
    // From l1: MAX hops; from l0: one more.
    assert.equal((await readWhole(vfs, '/chain/l1')).toString(), 'end\n');
    await assert.rejects(vfs.stat('/chain/l0'), rejectsWith(ErrorCode.NO_SUCH_FILE));
  });

  it('stores link targets as given and reads them as if chrooted, wherever the link moves', async () => {
    await vfs.symlink('/sub/to-root', '/');
    await vfs.symlink('/sub/up-three', '../../..');
    await vfs.symlink('/sub/abs-etc', '/etc/passwd');
    await vfs.symlink('/sub/deeper/abs-file', '/sub/file.txt');
    assert.equal(await vfs.readlink('/sub/to-root'), '/');
    assert.equal(await vfs.readlink('/sub/abs-etc'), '/etc/passwd');
    assert.equal(await readlink(path.join(root, 'sub', 'up-three')), '../../..');
    assert.equal(await vfs.realpath('/sub/to-root'), '/');
    assert.equal(await vfs.realpath('/sub/up-three'), '/');
    assert.equal((await readWhole(vfs, '/sub/to-root/inside.txt')).toString(), 'inside\n');
    const outsideHash = sha256(await readWhole(vfs, '/sub/up-three/outside/secret.txt'));
    assert.notEqual(outsideHash, secretHash);
    await assert.rejects(vfs.stat('/sub/abs-etc'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    // An absolute target keeps its meaning when the link moves to a shallower directory.
    await vfs.rename('/sub/deeper/abs-file', '/moved-abs-file', { overwrite: false });
    assert.equal((await readWhole(vfs, '/moved-abs-file')).toString(), 'sub file\n');
    assert.equal(await vfs.realpath('/moved-abs-file'), '/sub/file.txt');
  });

  it('acts where it resolved even when a directory on the way is swapped for a link', async () => {
    const backend = new LocalBackend({ root });
    await mkdir(path.join(root, 'held'));
    const at = await backend.locate('/held/new.txt', { followFinal: true });
    try {
      await rename(path.join(root, 'held'), path.join(root, 'held-away'));
      await symlink(outside, path.join(root, 'held'));
      const file = await backend.open(at, flags({ write: true, create: true }));
      await file.write(Buffer.from('written\n'), 0);
      await file.close();
      await backend.setstat(at, { mode: 0o600 });
      await backend.remove(at);
      // Everything happened in the directory that was resolved, now named held-away.
      await assert.rejects(readFile(path.join(outside, 'new.txt')), { code: 'ENOENT' });
      assert.equal(sha256(await readFile(path.join(outside, 'secret.txt'))), secretHash);
    } finally {
      at.release();
      await unlink(path.join(root, 'held'));
      await backend.close();
    }
  });

  it('hands the final lstat it made to one use: the target of a link, null for nothing', async () => {
    const viaLink = await resolver.locate('/c1', { followFinal: true });
    try {
      const seen = viaLink.takeSeenStat();
      assert.ok(seen?.isFile() === true, 'the chain ends on inside.txt, a regular file');
      assert.equal(seen?.size, 'inside\n'.length);
      assert.equal(viaLink.takeSeenStat(), undefined, 'given out once');
    } finally {
      viaLink.release();
    }
    const missing = await resolver.locate('/sub/not-there', { followFinal: true });
    assert.equal(missing.takeSeenStat(), null);
    missing.release();
    const unfollowed = await resolver.locate('/file-link', { followFinal: false });
    assert.equal(unfollowed.takeSeenStat(), undefined, 'no lstat is made without following');
    unfollowed.release();
  });

  it('a file created after its location saw nothing is still found by the kernel', async () => {
    const backend = new LocalBackend({ root });
    const name = `later-${randomBytes(4).toString('hex')}.txt`;
    const at = await backend.locate(`/sub/${name}`, { followFinal: true });
    const again = await backend.locate(`/sub/${name}`, { followFinal: true });
    try {
      await writeFile(path.join(root, 'sub', name), 'created meanwhile\n');
      await assert.rejects(
        backend.open(at, flags({ write: true, create: true, exclusive: true })),
        (err: unknown) => isKubesftpError(err, ErrorCode.FILE_EXISTS),
      );
      // Without O_EXCL the existing file is opened as it is, and reported as a file.
      const file = await backend.open(again, flags({ read: true, write: true, create: true }));
      assert.equal((await file.stat()).size, 'created meanwhile\n'.length);
      await file.close();
      assert.equal(await readFile(path.join(root, 'sub', name), 'utf8'), 'created meanwhile\n');
    } finally {
      at.release();
      again.release();
      await backend.close();
      await unlink(path.join(root, 'sub', name));
    }
  });

  it('never follows a final name swapped for a link after it was located', async () => {
    const backend = new LocalBackend({ root });
    await writeFile(path.join(root, 'victim.txt'), 'victim\n');
    const at = await backend.locate('/victim.txt', { followFinal: true });
    try {
      await unlink(path.join(root, 'victim.txt'));
      await symlink(path.join(outside, 'secret.txt'), path.join(root, 'victim.txt'));
      await assert.rejects(backend.open(at, flags({ write: true, truncate: true })));
      await assert.rejects(
        backend.setstat(at, { mode: 0o777 }),
        rejectsWith(ErrorCode.UNSUPPORTED),
      );
      await assert.rejects(backend.setstat(at, { size: 0 }), rejectsWith(ErrorCode.UNSUPPORTED));
      assert.equal(sha256(await readFile(path.join(outside, 'secret.txt'))), secretHash);
    } finally {
      at.release();
      await unlink(path.join(root, 'victim.txt'));
      await backend.close();
    }
  });

  it('never serves outside data while a directory is swapped for an outside link', async () => {
    const swapDir = path.join(root, 'swap');
    await mkdir(swapDir);
    await writeFile(path.join(swapDir, 'secret.txt'), 'inside swap\n');
    let swapping = true;
    const swapper = (async (): Promise<number> => {
      let swaps = 0;
      while (swapping && swaps < 2000) {
        await rename(swapDir, `${swapDir}-away`);
        await symlink(outside, swapDir);
        await unlink(swapDir);
        await rename(`${swapDir}-away`, swapDir);
        swaps += 1;
        // A short pause with the directory in place, so reads also succeed on a loaded machine.
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      return swaps;
    })();
    let reads = 0;
    try {
      // Enough attempts for both outcomes: reads during a swap and reads that succeed.
      for (let i = 0; i < 4000 && (i < 400 || reads < 20); i += 1) {
        try {
          const data = await readWhole(vfs, '/swap/secret.txt');
          assert.notEqual(sha256(data), secretHash, 'the secret leaked during a swap');
          reads += 1;
        } catch (err) {
          assert.ok(isKubesftpError(err), String(err));
        }
        // Lookups answer synchronously (decision 0020), so a failing read never reaches the
        // event loop; the swapper's renames only complete when the loop gets a turn.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      swapping = false;
    }
    const swaps = await swapper;
    assert.ok(swaps > 0 && reads > 0, `swaps ${swaps}, successful reads ${reads}`);
  });
});

describe('RootResolver over generated link graphs', () => {
  let base: string;
  let root: string;
  let secretHash: string;

  before(async () => {
    base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'kubesftp-graph-')));
    root = path.join(base, 'home');
    const outside = path.join(base, 'outside');
    await mkdir(outside);
    const secret = randomBytes(512);
    secretHash = sha256(secret);
    await writeFile(path.join(outside, 'f'), secret);
    await mkdir(path.join(root, 'a', 'b'), { recursive: true });
    await writeFile(path.join(root, 'f'), 'root f\n');
    await writeFile(path.join(root, 'a', 'f'), 'a f\n');
    // A small deterministic generator keeps failures reproducible.
    let seed = 12345;
    const pick = <T>(items: T[]): T => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return items[(seed >>> 8) % items.length]!;
    };
    const targets = [
      outside,
      `${outside}/f`,
      '..',
      '../..',
      '../../..',
      '/',
      '/a',
      'b',
      'l0',
      'l1',
      'l2',
      'l3',
      '../outside',
      '/../../outside/f',
      'f',
      '.',
    ];
    for (let i = 0; i < 24; i += 1) {
      const dir = pick(['', 'a', 'a/b']);
      await symlink(pick(targets), path.join(root, dir, `l${i % 6}x${i}`)).catch(() => undefined);
      await symlink(pick(targets), path.join(root, dir, `l${i % 4}`)).catch(() => undefined);
    }
  });

  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('keeps every generated path inside the root and never reads the outside file', async () => {
    const resolver = new RootResolver(root);
    after(() => resolver.close());
    const vfs = new LocalVfs({ root });
    const names = ['..', 'a', 'b', 'f', 'l0', 'l1', 'l2', 'l3', 'outside', `..${'/..'.repeat(5)}`];
    let seed = 999;
    let resolved = 0;
    for (let i = 0; i < 400; i += 1) {
      const segments = Array.from({ length: 1 + (i % 6) }, () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return names[(seed >>> 8) % names.length]!;
      });
      const virtualPath = toVirtualPath(segments.join('/'));
      try {
        const hostPath = await locateHost(resolver, virtualPath, true);
        assert.ok(
          hostPath === root || hostPath.startsWith(`${root}/`),
          `${virtualPath} -> ${hostPath}`,
        );
        resolved += 1;
        assert.notEqual(sha256(await readWhole(vfs, virtualPath)), secretHash, virtualPath);
      } catch (err) {
        assert.ok(isKubesftpError(err), `${virtualPath}: ${String(err)}`);
      }
    }
    assert.ok(
      resolved > 50,
      `only ${resolved} paths resolved: the generator is too hostile to test much`,
    );
  });
});
