/**
 * What an S3 home needs, read from an account's `filesystem.s3config` with the defaults filled
 * in. Pure: importing this loads no AWS code, so the server stays lean until an S3 user logs in.
 */
import type { S3Config } from '../dataprovider/account-schema.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { childPath } from './virtual-path.js';

const MiB = 1024 * 1024;

/** S3 refuses parts below 5 MiB (but the last) and above 5 GiB, and more than 10,000 parts. */
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * 1024 * MiB;
export const MAX_PARTS = 10_000;
/** CopyObject copies at most 5 GiB; larger objects are copied part by part. */
export const MAX_SINGLE_COPY = 5 * 1024 * MiB;

export const DEFAULT_UPLOAD_PART_MIB = 8;
export const DEFAULT_UPLOAD_CONCURRENCY = 4;
export const DEFAULT_DOWNLOAD_PART_MIB = 8;
export const DEFAULT_DOWNLOAD_CONCURRENCY = 3;

export interface S3HomeSettings {
  bucket: string;
  region: string;
  accessKey: string;
  /** The secret in clear text, opened from its sealed form just before use. */
  secretKey: string;
  /** Empty for AWS itself. */
  endpoint: string;
  /** Empty keeps the bucket's default. */
  storageClass: string;
  /** '' or a prefix ending in '/': the home's root in the bucket. */
  keyPrefix: string;
  forcePathStyle: boolean;
  uploadPartSize: number;
  uploadConcurrency: number;
  downloadPartSize: number;
  downloadConcurrency: number;
}

/** Tuning that accounts do not set: what tests shrink to reach rare paths with small files. */
export interface S3Tuning {
  /** Objects above this size are copied part by part (UploadPartCopy); default 5 GiB. */
  singleCopyLimit?: number;
  /** Bytes per part of such a copy; default 512 MiB. */
  copyPartSize?: number;
  /** Objects a directory rename may move at most; default 10,000. */
  maxRenameObjects?: number;
}

/** "a/b", "/a/b/" and "a//b" all become "a/b/"; "" stays "" (the whole bucket). */
export function normalizeKeyPrefix(prefix: string): string {
  const segments = prefix.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new KubesftpError(
      ErrorCode.INVALID_ARGUMENT,
      `key_prefix ${JSON.stringify(prefix)} may not hold "." or ".." segments`,
    );
  }
  return segments.length === 0 ? '' : `${segments.join('/')}/`;
}

function mib(value: number | undefined, fallback: number): number {
  return (value !== undefined && value > 0 ? value : fallback) * MiB;
}

function count(value: number | undefined, fallback: number): number {
  return value !== undefined && value > 0 ? value : fallback;
}

/** The settings of an account's S3 home; `secretKey` is the opened secret. */
export function s3HomeSettings(config: S3Config, secretKey: string): S3HomeSettings {
  return {
    bucket: config.bucket,
    region: config.region,
    accessKey: config.access_key,
    secretKey,
    endpoint: config.endpoint,
    storageClass: config.storage_class,
    keyPrefix: normalizeKeyPrefix(config.key_prefix),
    forcePathStyle: config.force_path_style === true,
    uploadPartSize: mib(config.upload_part_size, DEFAULT_UPLOAD_PART_MIB),
    uploadConcurrency: count(config.upload_concurrency, DEFAULT_UPLOAD_CONCURRENCY),
    downloadPartSize: mib(config.download_part_size, DEFAULT_DOWNLOAD_PART_MIB),
    downloadConcurrency: count(config.download_concurrency, DEFAULT_DOWNLOAD_CONCURRENCY),
  };
}

/** Object keys of a home: a virtual path maps to the prefix plus the path without its "/". */
export class KeyMap {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The object key of a file at `path`; the root has none. */
  fileKey(path: string): string {
    return `${this.prefix}${path.slice(1)}`;
  }

  /** The key prefix of the directory at `path`, ending in "/" (the home's prefix for "/"). */
  dirPrefix(path: string): string {
    return path === '/' ? this.prefix : `${this.fileKey(path)}/`;
  }

  /** The virtual path of a key under the home; undefined for keys outside it. */
  pathOf(key: string): string | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const rest = key.slice(this.prefix.length).replace(/\/$/, '');
    return rest === '' ? '/' : childPath('/', rest);
  }
}
