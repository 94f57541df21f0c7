/**
 * The startup sweep of unfinished multipart uploads. A server aborts its own uploads when a
 * transfer fails or its client goes away; a server that was killed could not, and S3 keeps
 * (and bills) the parts of such uploads until someone aborts them. At start, every S3 home
 * is checked once: an unfinished upload under its key prefix whose newest part (or, without
 * parts, its start) is older than the timeout is aborted. Live uploads of other servers send a
 * part every part size, so they are never that old.
 */
import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type ListMultipartUploadsCommandOutput,
  type ListPartsCommandOutput,
  type MultipartUpload,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { User } from '../dataprovider/types.js';
import { createS3Client } from './s3-client.js';
import { s3HomeSettings, type S3HomeSettings } from './s3-settings.js';

export interface SweepOptions {
  /** The accounts with S3 homes. */
  users: readonly User[];
  openSecret: (sealed: string) => Promise<string>;
  /** Uploads without activity for this long are aborted. */
  olderThanMs: number;
  now?: number;
  /** Told about each home that could not be swept; the sweep goes on with the next. */
  onError: (home: { username: string; bucket: string; prefix: string }, err: unknown) => void;
}

export interface SweepResult {
  homes: number;
  aborted: number;
}

/** One sweep per distinct server, bucket and prefix, whoever shares it. */
function homeKey(settings: S3HomeSettings): string {
  return JSON.stringify([
    settings.endpoint,
    settings.bucket,
    settings.keyPrefix,
    settings.accessKey,
  ]);
}

export async function sweepAbandonedUploads(options: SweepOptions): Promise<SweepResult> {
  const seen = new Set<string>();
  const result: SweepResult = { homes: 0, aborted: 0 };
  for (const user of options.users) {
    const config = user.filesystem.s3config!;
    const home = { username: user.username, bucket: config.bucket, prefix: config.key_prefix };
    try {
      const settings = s3HomeSettings(config, await options.openSecret(config.access_secret));
      if (seen.has(homeKey(settings))) continue;
      seen.add(homeKey(settings));
      result.homes++;
      result.aborted += await sweepHome(settings, options);
    } catch (err) {
      options.onError(home, err);
    }
  }
  return result;
}

async function sweepHome(settings: S3HomeSettings, options: SweepOptions): Promise<number> {
  const client = createS3Client(settings);
  try {
    const cutoff = (options.now ?? Date.now()) - options.olderThanMs;
    let aborted = 0;
    for (const upload of await unfinishedUploads(client, settings)) {
      if ((await lastActivity(client, settings.bucket, upload)) > cutoff) continue;
      await client.send(
        new AbortMultipartUploadCommand({
          Bucket: settings.bucket,
          Key: upload.Key,
          UploadId: upload.UploadId,
        }),
      );
      aborted++;
    }
    return aborted;
  } finally {
    client.destroy();
  }
}

async function unfinishedUploads(
  client: S3Client,
  settings: S3HomeSettings,
): Promise<MultipartUpload[]> {
  const uploads: MultipartUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    // Listed whole and filtered here: MinIO matches Prefix against whole keys only.
    const page: ListMultipartUploadsCommandOutput = await client.send(
      new ListMultipartUploadsCommand({
        Bucket: settings.bucket,
        ...(keyMarker === undefined
          ? {}
          : { KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      }),
    );
    const uploadsHere = (page.Uploads ?? []).filter((upload) =>
      upload.Key?.startsWith(settings.keyPrefix),
    );
    uploads.push(...uploadsHere);
    if (page.IsTruncated !== true) return uploads;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/** The time of the upload's newest part, or of its start when it has none. */
async function lastActivity(
  client: S3Client,
  bucket: string,
  upload: MultipartUpload,
): Promise<number> {
  let newest = upload.Initiated?.getTime() ?? 0;
  let marker: string | undefined;
  for (;;) {
    const parts: ListPartsCommandOutput = await client.send(
      new ListPartsCommand({
        Bucket: bucket,
        Key: upload.Key,
        UploadId: upload.UploadId,
        ...(marker === undefined ? {} : { PartNumberMarker: marker }),
      }),
    );
    for (const part of parts.Parts ?? []) {
      newest = Math.max(newest, part.LastModified?.getTime() ?? 0);
    }
    if (parts.IsTruncated !== true || parts.NextPartNumberMarker === undefined) return newest;
    marker = parts.NextPartNumberMarker;
  }
}
