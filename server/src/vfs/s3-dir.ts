/**
 * Directories of an S3 home. S3 has only keys; a directory is a key prefix ending in "/": it
 * exists when a marker object of that name exists (what mkdir makes) or when any object lies
 * under it. A listing pages through ListObjectsV2 with "/" as delimiter, so a directory of any
 * size costs one request per thousand entries and never more memory than their names.
 */
import {
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { s3Call } from './s3-client.js';
import { S_IFDIR, S_IFREG, type DirEntry, type FileStat, type VfsDir } from './types.js';

/** Owner and permission bits that every entry of a home shows (S3 keeps neither). */
export interface EntryLook {
  uid: number;
  gid: number;
  fileMode: number;
  dirMode: number;
}

export function fileStat(
  look: EntryLook,
  object: { size: number; mtime: Date | undefined },
): FileStat {
  const mtime = Math.floor((object.mtime?.getTime() ?? Date.now()) / 1000);
  return {
    size: object.size,
    uid: look.uid,
    gid: look.gid,
    mode: S_IFREG | look.fileMode,
    atime: mtime,
    mtime,
    nlink: 1,
  };
}

/** A directory's stat: the marker's time when known, else now (S3 records none). */
export function dirStat(look: EntryLook, mtime?: Date): FileStat {
  const seconds = Math.floor((mtime?.getTime() ?? Date.now()) / 1000);
  return {
    size: 0,
    uid: look.uid,
    gid: look.gid,
    mode: S_IFDIR | look.dirMode,
    atime: seconds,
    mtime: seconds,
    nlink: 2,
  };
}

/** A name a client can use: not empty, not "." or "..". Keys like "a//b" hold such names. */
function usableName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..';
}

export interface ListingSource {
  client: S3Client;
  bucket: string;
  /** The directory's key prefix, ending in "/" (or the home's prefix, possibly ""). */
  prefix: string;
  look: EntryLook;
  stat: FileStat;
}

/**
 * The entries of one directory, a page at a time. A name that is both an object and a prefix
 * (S3 allows "a" and "a/x" side by side) is listed once, as the file, as stat shows it.
 */
export class S3Dir implements VfsDir {
  readonly #source: ListingSource;
  readonly #ready: DirEntry[] = [];
  readonly #seen = new Set<string>();
  #token: string | undefined;
  #exhausted = false;

  constructor(source: ListingSource) {
    this.#source = source;
  }

  async next(max: number): Promise<DirEntry[] | null> {
    while (this.#ready.length < max && !this.#exhausted) await this.#page();
    if (this.#ready.length === 0) return null;
    return this.#ready.splice(0, max);
  }

  async #page(): Promise<void> {
    const { client, bucket, prefix } = this.#source;
    const page: ListObjectsV2CommandOutput = await s3Call('listing', () =>
      client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          Delimiter: '/',
          ...(this.#token === undefined ? {} : { ContinuationToken: this.#token }),
        }),
      ),
    );
    this.#token = page.NextContinuationToken;
    this.#exhausted = page.IsTruncated !== true || this.#token === undefined;
    const files: DirEntry[] = [];
    for (const object of page.Contents ?? []) {
      const name = object.Key!.slice(prefix.length);
      if (!usableName(name)) continue;
      files.push({
        name,
        stat: fileStat(this.#source.look, { size: object.Size ?? 0, mtime: object.LastModified }),
      });
    }
    const dirs = (page.CommonPrefixes ?? []).map((common) =>
      common.Prefix!.slice(prefix.length, -1),
    );
    this.#add(files);
    this.#add(dirs.filter(usableName).map((name) => ({ name, stat: dirStat(this.#source.look) })));
  }

  #add(entries: DirEntry[]): void {
    for (const entry of entries) {
      if (this.#seen.has(entry.name)) continue;
      this.#seen.add(entry.name);
      this.#ready.push(entry);
    }
  }

  stat(): Promise<FileStat> {
    return Promise.resolve({ ...this.#source.stat });
  }

  close(): Promise<void> {
    this.#ready.length = 0;
    this.#exhausted = true;
    return Promise.resolve();
  }
}

/** Every key under `prefix`, in pages, stopping past `limit` keys (the caller refuses then). */
export async function keysUnder(
  client: S3Client,
  options: { bucket: string; prefix: string; limit: number },
): Promise<{ key: string; size: number; etag: string | undefined }[]> {
  const keys: { key: string; size: number; etag: string | undefined }[] = [];
  let token: string | undefined;
  do {
    const page: ListObjectsV2CommandOutput = await s3Call('listing', () =>
      client.send(
        new ListObjectsV2Command({
          Bucket: options.bucket,
          Prefix: options.prefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      ),
    );
    for (const object of page.Contents ?? []) {
      keys.push({ key: object.Key!, size: object.Size ?? 0, etag: object.ETag });
    }
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined && keys.length <= options.limit);
  return keys;
}
