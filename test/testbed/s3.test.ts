import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { s3ClientFor, startS3, type S3Env } from '../env/testbed.js';

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

async function download(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const result = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return result.Body!.transformToByteArray();
}

void describe('S3 server from the test bed', { timeout: 60_000 }, () => {
  let env: S3Env;
  let client: S3Client;

  before(async () => {
    env = await startS3();
    client = s3ClientFor(env);
  });

  after(async () => {
    client?.destroy();
    await env?.stop();
  });

  void it('stores an object and returns the same bytes', async () => {
    const body = randomBytes(256 * 1024 + 7);
    await client.send(
      new PutObjectCommand({ Bucket: env.bucket, Key: 'small/one.bin', Body: body }),
    );
    assert.equal(sha256(await download(client, env.bucket, 'small/one.bin')), sha256(body));
  });

  void it('assembles a multipart upload of 5 MiB parts in order', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB + 13)];
    const key = 'big/multipart.bin';
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: env.bucket, Key: key }),
    );
    const uploaded = [];
    for (const [index, part] of parts.entries()) {
      const PartNumber = index + 1;
      const { ETag } = await client.send(
        new UploadPartCommand({ Bucket: env.bucket, Key: key, UploadId, PartNumber, Body: part }),
      );
      uploaded.push({ ETag, PartNumber });
    }
    const done = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: env.bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: uploaded },
      }),
    );
    // An S3 multipart ETag ends in "-<number of parts>"; a single PUT's does not.
    assert.match(done.ETag ?? '', new RegExp(`-${parts.length}"?$`));
    const whole = Buffer.concat(parts);
    const got = await download(client, env.bucket, key);
    assert.equal(got.length, whole.length);
    assert.equal(sha256(got), sha256(whole));
  });

  void it('lists keys under a prefix with their sizes', async () => {
    const sizes = new Map([
      ['list/a.txt', 3],
      ['list/b/c.txt', 11],
    ]);
    for (const [key, size] of sizes) {
      await client.send(
        new PutObjectCommand({ Bucket: env.bucket, Key: key, Body: randomBytes(size) }),
      );
    }
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: env.bucket, Prefix: 'list/' }),
    );
    const found = new Map((listed.Contents ?? []).map((object) => [object.Key!, object.Size]));
    assert.deepEqual(found, sizes);
    const shallow = await client.send(
      new ListObjectsV2Command({ Bucket: env.bucket, Prefix: 'list/', Delimiter: '/' }),
    );
    assert.deepEqual(
      shallow.CommonPrefixes?.map((prefix) => prefix.Prefix),
      ['list/b/'],
    );
    assert.deepEqual(
      shallow.Contents?.map((object) => object.Key),
      ['list/a.txt'],
    );
  });
});
