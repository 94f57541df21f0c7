/**
 * The S3 backend: a home is a bucket and a key prefix. A virtual path maps to one key
 * (files) or one key prefix (directories, see s3-dir.ts); uploads stream as multipart uploads
 * (s3-upload.ts), downloads are ranged GETs with read-ahead (s3-read.ts), renames are
 * server-side copies (s3-copy.ts).
 *
 * S3 has no symlinks, so a Location is just the virtual path and its key: nothing on the way
 * can redirect it. What S3 cannot do (modes, owners, times, links, truncating to a non-zero
 * size, fsync, writing at random offsets) answers UNSUPPORTED, and the capabilities say so,
 * so clients are never offered it.
 */
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ErrorCode, KubesftpError } from '../errors.js';
import { copyObject, moveTree, type CopySettings } from './s3-copy.js';
import { createS3Client, fromS3, isNotFound, s3Call } from './s3-client.js';
import { S3Dir, dirStat, fileStat, type EntryLook } from './s3-dir.js';
import { S3Reader } from './s3-read.js';
import {
  KeyMap,
  MAX_SINGLE_COPY,
  s3HomeSettings,
  type S3HomeSettings,
  type S3Tuning,
} from './s3-settings.js';
import type { User } from '../dataprovider/types.js';
import { S3Upload } from './s3-upload.js';
import type {
  Backend,
  FileStat,
  LocateOptions,
  Location,
  OpenFlags,
  RenameOptions,
  SetAttrs,
  StatVfs,
  VfsCapabilities,
  VfsDir,
  VfsFile,
} from './types.js';
import { isAtOrBelow, parentPath } from './virtual-path.js';

/** S3 keys are at most 1024 bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;
const STATVFS_BLOCK = 4096;
/** S3 states no capacity: statvfs reports 1 PiB free, which clients show as plenty. */
const REPORTED_BLOCKS = 2 ** 50 / STATVFS_BLOCK;
const REPORTED_FILES = 2 ** 32;

export const S3_CAPABILITIES: VfsCapabilities = {
  symlinks: false,
  hardlinks: false,
  posixRename: true,
  statvfs: true,
  fsync: false,
  chmod: false,
  chown: false,
  chtimes: false,
  atomicUpload: true,
  resumeUpload: false,
};

export interface S3BackendOptions {
  settings: S3HomeSettings;
  /** Bits cleared from the modes entries show (0666 files, 0777 directories). */
  umask: number;
  uid: number;
  gid: number;
  tuning?: S3Tuning;
  /** A client to use instead of one made from the settings (closed with the backend). */
  client?: S3Client;
}

class S3Location implements Location {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  release(): void {}
}

function unsupported(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.UNSUPPORTED, message);
}

function fail(code: ErrorCode, message: string): never {
  throw new KubesftpError(code, message);
}

/** What a path holds: an object, a directory (marker or prefix), or nothing. */
interface FileEntry {
  kind: 'file';
  size: number;
  mtime: Date | undefined;
  etag: string | undefined;
}
type Entry = FileEntry | { kind: 'dir'; mtime: Date | undefined } | undefined;

export class S3Backend implements Backend {
  readonly capabilities = S3_CAPABILITIES;
  readonly #client: S3Client;
  readonly #settings: S3HomeSettings;
  readonly #keys: KeyMap;
  readonly #look: EntryLook;
  readonly #copy: CopySettings;
  readonly #maxRenameObjects: number;

  constructor(options: S3BackendOptions) {
    const { settings, tuning = {} } = options;
    this.#settings = settings;
    this.#client = options.client ?? createS3Client(settings);
    this.#keys = new KeyMap(settings.keyPrefix);
    this.#look = {
      uid: options.uid > 0 ? options.uid : (process.getuid?.() ?? 0),
      gid: options.gid > 0 ? options.gid : (process.getgid?.() ?? 0),
      fileMode: 0o666 & ~options.umask,
      dirMode: 0o777 & ~options.umask,
    };
    this.#copy = {
      client: this.#client,
      bucket: settings.bucket,
      storageClass: settings.storageClass,
      singleCopyLimit: tuning.singleCopyLimit ?? MAX_SINGLE_COPY,
      copyPartSize: tuning.copyPartSize ?? 512 * 1024 * 1024,
    };
    this.#maxRenameObjects = tuning.maxRenameObjects ?? 10_000;
  }

  /** Checks that the bucket and prefix can be listed with these credentials. */
  async probe(): Promise<void> {
    await s3Call(`opening bucket ${this.#settings.bucket}`, () =>
      this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#settings.bucket,
          Prefix: this.#keys.prefix,
          MaxKeys: 1,
        }),
      ),
    );
  }

  locate(path: string, _options: LocateOptions): Promise<Location> {
    if (Buffer.byteLength(this.#keys.dirPrefix(path)) > MAX_KEY_BYTES) {
      return Promise.reject(
        new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'path too long for an S3 key'),
      );
    }
    return Promise.resolve(new S3Location(path));
  }

  async stat(at: Location): Promise<FileStat> {
    const entry = await this.#entry(at.path);
    if (entry === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${at.path}`);
    return entry.kind === 'dir'
      ? dirStat(this.#look, entry.mtime)
      : fileStat(this.#look, { size: entry.size, mtime: entry.mtime });
  }

  async #entry(path: string): Promise<Entry> {
    if (path === '/') return { kind: 'dir', mtime: undefined };
    const file = await this.#head(this.#keys.fileKey(path));
    if (file !== undefined) return file;
    return this.#directory(path);
  }

  async #head(key: string): Promise<Entry> {
    try {
      const head = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#settings.bucket, Key: key }),
      );
      return {
        kind: 'file',
        size: head.ContentLength ?? 0,
        mtime: head.LastModified,
        etag: head.ETag,
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw fromS3(err, 'looking up a file');
    }
  }

  /** A directory exists when its marker or any object lies under its prefix. */
  async #directory(path: string): Promise<Entry> {
    const prefix = this.#keys.dirPrefix(path);
    const listed = await s3Call('looking up a directory', () =>
      this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#settings.bucket, Prefix: prefix, MaxKeys: 1 }),
      ),
    );
    const first = listed.Contents?.[0];
    if (first === undefined) return undefined;
    return { kind: 'dir', mtime: first.Key === prefix ? first.LastModified : undefined };
  }

  /** New names go into existing directories only, as on a disk. */
  async #checkParent(path: string): Promise<void> {
    const parent = parentPath(path);
    if (parent === '/') return;
    const entry = await this.#entry(parent);
    if (entry === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such directory: ${parent}`);
    if (entry.kind !== 'dir') fail(ErrorCode.NOT_A_DIRECTORY, `not a directory: ${parent}`);
  }

  async open(at: Location, flags: OpenFlags, _attrs?: SetAttrs): Promise<VfsFile> {
    const writing = flags.write || flags.create || flags.truncate || flags.append;
    const entry = await this.#entry(at.path);
    if (entry?.kind === 'dir') fail(ErrorCode.IS_A_DIRECTORY, `is a directory: ${at.path}`);
    if (writing) return this.#openUpload(at.path, flags, entry);
    if (entry === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${at.path}`);
    const settings = this.#settings;
    return new S3Reader({
      client: this.#client,
      bucket: settings.bucket,
      key: this.#keys.fileKey(at.path),
      etag: entry.etag,
      stat: fileStat(this.#look, entry),
      chunkSize: settings.downloadPartSize,
      readAhead: settings.downloadConcurrency,
    });
  }

  async #openUpload(
    path: string,
    flags: OpenFlags,
    entry: FileEntry | undefined,
  ): Promise<VfsFile> {
    if (flags.read || !flags.write) {
      throw unsupported('S3 files open for writing only, with the WRITE flag');
    }
    if (entry === undefined) {
      if (!flags.create) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${path}`);
      await this.#checkParent(path);
    } else {
      if (flags.create && flags.exclusive) fail(ErrorCode.FILE_EXISTS, `exists: ${path}`);
      // Appending or writing into existing bytes would need the object rewritten.
      if (entry.size > 0 && (flags.append || !flags.truncate)) {
        throw unsupported('S3 objects are replaced whole: open with truncate to overwrite');
      }
    }
    const settings = this.#settings;
    return new S3Upload({
      client: this.#client,
      bucket: settings.bucket,
      key: this.#keys.fileKey(path),
      storageClass: settings.storageClass,
      partSize: settings.uploadPartSize,
      concurrency: settings.uploadConcurrency,
      stat: fileStat(this.#look, { size: 0, mtime: new Date() }),
    });
  }

  async opendir(at: Location): Promise<VfsDir> {
    const entry = await this.#entry(at.path);
    if (entry === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such directory: ${at.path}`);
    if (entry.kind !== 'dir') fail(ErrorCode.NOT_A_DIRECTORY, `not a directory: ${at.path}`);
    return new S3Dir({
      client: this.#client,
      bucket: this.#settings.bucket,
      prefix: this.#keys.dirPrefix(at.path),
      look: this.#look,
      stat: dirStat(this.#look, entry.mtime),
    });
  }

  async mkdir(at: Location, _attrs?: SetAttrs): Promise<void> {
    if ((await this.#entry(at.path)) !== undefined)
      fail(ErrorCode.FILE_EXISTS, `exists: ${at.path}`);
    await this.#checkParent(at.path);
    await this.#putEmpty(this.#keys.dirPrefix(at.path), 'making a directory');
  }

  async #putEmpty(key: string, doing: string): Promise<void> {
    await s3Call(doing, () =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.#settings.bucket,
          Key: key,
          Body: Buffer.alloc(0),
          ContentLength: 0,
        }),
      ),
    );
  }

  async rmdir(at: Location): Promise<void> {
    if (at.path === '/') fail(ErrorCode.PERMISSION_DENIED, 'the home directory cannot be removed');
    const prefix = this.#keys.dirPrefix(at.path);
    const listed = await s3Call('looking up a directory', () =>
      this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#settings.bucket, Prefix: prefix, MaxKeys: 2 }),
      ),
    );
    const keys = (listed.Contents ?? []).map((object) => object.Key!);
    if (keys.length === 0) {
      const file = await this.#head(this.#keys.fileKey(at.path));
      if (file !== undefined) fail(ErrorCode.NOT_A_DIRECTORY, `not a directory: ${at.path}`);
      fail(ErrorCode.NO_SUCH_FILE, `no such directory: ${at.path}`);
    }
    if (keys.some((key) => key !== prefix)) fail(ErrorCode.DIR_NOT_EMPTY, `not empty: ${at.path}`);
    await this.#delete(prefix, 'removing a directory');
    await this.#keepParent(at.path);
  }

  async remove(at: Location): Promise<void> {
    if (at.path === '/') fail(ErrorCode.PERMISSION_DENIED, 'the home directory cannot be removed');
    const entry = await this.#entry(at.path);
    if (entry === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${at.path}`);
    if (entry.kind === 'dir') fail(ErrorCode.IS_A_DIRECTORY, `is a directory: ${at.path}`);
    await this.#delete(this.#keys.fileKey(at.path), 'removing a file');
    await this.#keepParent(at.path);
  }

  async #delete(key: string, doing: string): Promise<void> {
    await s3Call(doing, () =>
      this.#client.send(new DeleteObjectCommand({ Bucket: this.#settings.bucket, Key: key })),
    );
  }

  /**
   * A directory that only existed through the entry just removed would vanish with it (the
   * client's working directory, say): it gets a marker of its own instead.
   */
  async #keepParent(path: string): Promise<void> {
    const parent = parentPath(path);
    if (parent === '/' || (await this.#directory(parent)) !== undefined) return;
    await this.#putEmpty(this.#keys.dirPrefix(parent), 'keeping a directory');
  }

  async rename(from: Location, to: Location, options: RenameOptions): Promise<void> {
    if (from.path === '/' || to.path === '/') {
      fail(ErrorCode.PERMISSION_DENIED, 'the home directory cannot be renamed');
    }
    if (from.path === to.path) return;
    const source = await this.#entry(from.path);
    if (source === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${from.path}`);
    await this.#checkParent(to.path);
    await this.#checkReplace(source, to.path, options);
    if (source.kind === 'file') {
      const key = this.#keys.fileKey(from.path);
      await copyObject(
        this.#copy,
        { key, size: source.size, etag: source.etag },
        this.#keys.fileKey(to.path),
      );
      await this.#delete(key, 'removing the old name');
    } else {
      if (isAtOrBelow(to.path, from.path)) {
        fail(ErrorCode.INVALID_ARGUMENT, 'cannot move a directory into itself');
      }
      await moveTree(this.#copy, {
        fromPrefix: this.#keys.dirPrefix(from.path),
        toPrefix: this.#keys.dirPrefix(to.path),
        maxObjects: this.#maxRenameObjects,
      });
    }
    await this.#keepParent(from.path);
  }

  /** POSIX rules for an existing target: same kind, and an empty directory only. */
  async #checkReplace(
    source: NonNullable<Entry>,
    target: string,
    options: RenameOptions,
  ): Promise<void> {
    const existing = await this.#entry(target);
    if (existing === undefined) return;
    if (!options.overwrite) fail(ErrorCode.FILE_EXISTS, `rename target exists: ${target}`);
    if (existing.kind === 'dir' && source.kind !== 'dir') fail(ErrorCode.IS_A_DIRECTORY, target);
    if (existing.kind !== 'dir' && source.kind === 'dir') fail(ErrorCode.NOT_A_DIRECTORY, target);
    if (existing.kind === 'dir') {
      const listed = await s3Call('looking up a directory', () =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#settings.bucket,
            Prefix: this.#keys.dirPrefix(target),
            MaxKeys: 2,
          }),
        ),
      );
      const marker = this.#keys.dirPrefix(target);
      if ((listed.Contents ?? []).some((object) => object.Key !== marker)) {
        fail(ErrorCode.DIR_NOT_EMPTY, `not empty: ${target}`);
      }
    }
  }

  symlink(_at: Location, _target: string): Promise<void> {
    return Promise.reject(unsupported('S3 has no symbolic links'));
  }

  readlink(_at: Location): Promise<string> {
    return Promise.reject(unsupported('S3 has no symbolic links'));
  }

  link(_existing: Location, _at: Location): Promise<void> {
    return Promise.reject(unsupported('S3 has no hard links'));
  }

  /** Only a truncation to empty is possible (the object is replaced); sizes kept are no-ops. */
  async setstat(at: Location, attrs: SetAttrs): Promise<void> {
    const { size, ...rest } = attrs;
    const entry = await this.#entry(at.path);
    if (entry === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${at.path}`);
    if (Object.values(rest).some((value) => value !== undefined)) {
      throw unsupported('S3 objects have no mode, owner or times to set');
    }
    if (size === undefined) return;
    if (entry.kind === 'dir') fail(ErrorCode.IS_A_DIRECTORY, `is a directory: ${at.path}`);
    if (size === entry.size) return;
    if (size !== 0) throw unsupported('S3 objects can only be truncated to zero');
    await this.#putEmpty(this.#keys.fileKey(at.path), 'truncating a file');
  }

  async statvfs(at: Location): Promise<StatVfs> {
    if ((await this.#entry(at.path)) === undefined) {
      fail(ErrorCode.NO_SUCH_FILE, `no such file: ${at.path}`);
    }
    return {
      bsize: STATVFS_BLOCK,
      frsize: STATVFS_BLOCK,
      blocks: REPORTED_BLOCKS,
      bfree: REPORTED_BLOCKS,
      bavail: REPORTED_BLOCKS,
      files: REPORTED_FILES,
      ffree: REPORTED_FILES,
      favail: REPORTED_FILES,
      fsid: 0,
      flag: 0,
      namemax: MAX_KEY_BYTES - Buffer.byteLength(this.#keys.prefix),
    };
  }

  close(): Promise<void> {
    this.#client.destroy();
    return Promise.resolve();
  }
}

/**
 * The backend of an account's S3 home: the secret opened, the client made, and the bucket
 * listed once, so a home that cannot be reached fails the login's file system, not a request.
 */
export async function openS3Backend(
  user: User,
  options: { umask: number; openSecret: (sealed: string) => Promise<string>; tuning?: S3Tuning },
): Promise<S3Backend> {
  const config = user.filesystem.s3config;
  if (config === undefined) {
    throw new KubesftpError(ErrorCode.FAILURE, `user ${user.username} has no s3config`);
  }
  const secret = await options.openSecret(config.access_secret);
  const backend = new S3Backend({
    settings: s3HomeSettings(config, secret),
    umask: options.umask,
    uid: user.uid,
    gid: user.gid,
    tuning: options.tuning,
  });
  try {
    await backend.probe();
  } catch (err) {
    await backend.close();
    throw err;
  }
  return backend;
}
