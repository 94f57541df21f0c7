import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { UploadPartCommand } from '@aws-sdk/client-s3';
import { createS3Client } from './s3-client.js';

const settings = {
  bucket: 'b',
  region: 'us-east-1',
  accessKey: 'AKIDEXAMPLE',
  secretKey: 'not-a-real-secret',
  storageClass: '',
  keyPrefix: '',
  forcePathStyle: true,
  uploadPartSize: 5,
  uploadConcurrency: 1,
  downloadPartSize: 5,
  downloadConcurrency: 1,
};

const SENT = new Error('captured before sending');

/** The headers of an UploadPart as signed, caught before anything goes out. */
async function signedHeaders(endpoint: string, body: Buffer): Promise<Record<string, string>> {
  const client = createS3Client({ ...settings, endpoint });
  let headers: Record<string, string> = {};
  client.middlewareStack.add(
    () => (args) => {
      headers = { ...(args.request as { headers: Record<string, string> }).headers };
      return Promise.reject(SENT);
    },
    { step: 'deserialize', name: 'capture' },
  );
  const part = new UploadPartCommand({
    Bucket: 'b',
    Key: 'k',
    UploadId: 'u',
    PartNumber: 1,
    Body: body,
    ContentLength: body.length,
  });
  await assert.rejects(client.send(part), (err) => err === SENT);
  client.destroy();
  return headers;
}

test('over plain HTTP the signature covers the body hash; over https the body is left unsigned', async () => {
  const body = Buffer.alloc(200 * 1024, 7);
  const overHttp = await signedHeaders('http://127.0.0.1:9', body);
  assert.equal(overHttp['x-amz-content-sha256'], createHash('sha256').update(body).digest('hex'));
  assert.match(overHttp.authorization ?? '', /x-amz-content-sha256/);
  const overTls = await signedHeaders('https://127.0.0.1:9', body);
  assert.equal(overTls['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
  assert.match(overTls.authorization ?? '', /^AWS4-HMAC-SHA256 /);
});
