/**
 * Server-side copies, the first half of an S3 rename: CopyObject up to 5 GiB, part by part
 * (UploadPartCopy) above, and whole directory trees. S3 has no rename: a moved name is a copy
 * and a delete, so a tree is copied whole first, and its old keys are deleted only once every
 * copy exists. A failed copy deletes what it had copied and leaves the source as it was.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ErrorCode, KubesftpError } from '../errors.js';
import { s3Call } from './s3-client.js';
import { keysUnder } from './s3-dir.js';

/** Copies and deletes of one tree rename running at once. */
const TREE_CONCURRENCY = 8;
/** DeleteObjects takes at most 1000 keys. */
const DELETE_BATCH = 1000;

export interface CopySettings {
  client: S3Client;
  bucket: string;
  storageClass: string;
  singleCopyLimit: number;
  copyPartSize: number;
}

export interface ObjectRef {
  key: string;
  size: number;
  etag: string | undefined;
}

/** The x-amz-copy-source of a key: the bucket and the key, each segment URL-encoded. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function storage(settings: CopySettings): { StorageClass?: never } {
  return settings.storageClass === '' ? {} : { StorageClass: settings.storageClass as never };
}

/** Copies one object to `toKey`, refusing (412) if it changed since it was looked at. */
export async function copyObject(
  settings: CopySettings,
  from: ObjectRef,
  toKey: string,
): Promise<void> {
  if (from.size > settings.singleCopyLimit) {
    await copyInParts(settings, from, toKey);
    return;
  }
  const { client, bucket } = settings;
  await s3Call('copying', () =>
    client.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: toKey,
        CopySource: copySource(bucket, from.key),
        ...(from.etag === undefined ? {} : { CopySourceIfMatch: from.etag }),
        ...storage(settings),
      }),
    ),
  );
}

async function copyInParts(settings: CopySettings, from: ObjectRef, toKey: string): Promise<void> {
  const { client, bucket } = settings;
  const created = await s3Call('starting a copy', () =>
    client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: toKey, ...storage(settings) }),
    ),
  );
  const uploadId = created.UploadId!;
  try {
    const ranges: { partNumber: number; start: number; end: number }[] = [];
    for (let start = 0; start < from.size; start += settings.copyPartSize) {
      const end = Math.min(from.size, start + settings.copyPartSize);
      ranges.push({ partNumber: ranges.length + 1, start, end });
    }
    const parts = await mapLimited(
      ranges,
      TREE_CONCURRENCY,
      async (range): Promise<CompletedPart> => {
        const copied = await s3Call(`copying part ${range.partNumber}`, () =>
          client.send(
            new UploadPartCopyCommand({
              Bucket: bucket,
              Key: toKey,
              UploadId: uploadId,
              PartNumber: range.partNumber,
              CopySource: copySource(bucket, from.key),
              CopySourceRange: `bytes=${range.start}-${range.end - 1}`,
              ...(from.etag === undefined ? {} : { CopySourceIfMatch: from.etag }),
            }),
          ),
        );
        return { PartNumber: range.partNumber, ETag: copied.CopyPartResult?.ETag };
      },
    );
    await s3Call('completing a copy', () =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: toKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      ),
    );
  } catch (err) {
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: toKey, UploadId: uploadId }))
      .catch(() => undefined);
    throw err;
  }
}

/** Runs `work` on every item, at most `limit` at a time; resolves in item order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const index = next++;
      results[index] = await work(items[index]!).catch((err: unknown) => {
        failed = true;
        throw err;
      });
    }
  };
  // Every worker settles before the first failure is passed on, so none runs on unseen.
  const settled = await Promise.allSettled(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  const failure = settled.find((result) => result.status === 'rejected');
  if (failure !== undefined) throw failure.reason as Error;
  return results;
}

/** Deletes keys in batches; resolves with the keys S3 did not delete. */
export async function deleteKeys(
  settings: Pick<CopySettings, 'client' | 'bucket'>,
  keys: readonly string[],
): Promise<string[]> {
  const left: string[] = [];
  for (let at = 0; at < keys.length; at += DELETE_BATCH) {
    const batch = keys.slice(at, at + DELETE_BATCH);
    const result = await settings.client
      .send(
        new DeleteObjectsCommand({
          Bucket: settings.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      )
      .catch(() => ({ Errors: batch.map((Key) => ({ Key })) }));
    left.push(...(result.Errors ?? []).flatMap((error) => (error.Key ? [error.Key] : [])));
  }
  return left;
}

/**
 * Moves every object under `fromPrefix` to `toPrefix`. Nothing is deleted before every copy
 * exists: a failed copy removes the copies and leaves the tree where it was; a failed delete
 * leaves both trees whole and says which keys remain.
 */
export async function moveTree(
  settings: CopySettings,
  options: { fromPrefix: string; toPrefix: string; maxObjects: number },
): Promise<void> {
  const { fromPrefix, toPrefix, maxObjects } = options;
  const objects = await keysUnder(settings.client, {
    bucket: settings.bucket,
    prefix: fromPrefix,
    limit: maxObjects,
  });
  if (objects.length > maxObjects) {
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `renaming a directory moves each object under it; this one holds more than ${maxObjects}: nothing was moved`,
    );
  }
  const target = (key: string): string => `${toPrefix}${key.slice(fromPrefix.length)}`;
  const copied: string[] = [];
  try {
    await mapLimited(objects, TREE_CONCURRENCY, async (object) => {
      await copyObject(settings, object, target(object.key));
      copied.push(target(object.key));
    });
  } catch (err) {
    await deleteKeys(settings, copied);
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `directory rename failed, nothing was moved: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const left = await deleteKeys(
    settings,
    objects.map((object) => object.key),
  );
  if (left.length > 0) {
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `directory copied to ${toPrefix}, but ${left.length} objects could not be removed from ${fromPrefix} (first: ${left[0]})`,
    );
  }
}
