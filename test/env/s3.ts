/**
 * An S3-compatible server for tests (MinIO, single drive) on a loopback port, with generated
 * root credentials and one empty bucket.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testbedBinary } from './binaries.js';
import { freeLoopbackPort, spawnManaged, waitUntilReady } from './processes.js';

export interface S3Env {
  /** http://127.0.0.1:<port>; clients must use path-style addressing. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
  stop(): Promise<void>;
}

export interface StartS3Options {
  /** Name of the bucket to create (default: a random one). */
  bucket?: string;
  readyTimeoutMs?: number;
}

const region = 'us-east-1';

/** A client for the test bed server with the settings it needs (path style, its region). */
export function s3ClientFor(
  env: Pick<S3Env, 'endpoint' | 'accessKey' | 'secretKey' | 'region'>,
): S3Client {
  return new S3Client({
    endpoint: env.endpoint,
    region: env.region,
    forcePathStyle: true,
    credentials: { accessKeyId: env.accessKey, secretAccessKey: env.secretKey },
  });
}

export async function startS3(options: StartS3Options = {}): Promise<S3Env> {
  const binary = testbedBinary('minio');
  const dir = await mkdtemp(join(tmpdir(), 'kubesftp-s3-'));
  const endpoint = `http://127.0.0.1:${await freeLoopbackPort()}`;
  const consoleAddress = `127.0.0.1:${await freeLoopbackPort()}`;
  const accessKey = `testbed${randomBytes(6).toString('hex')}`;
  const secretKey = randomBytes(24).toString('hex');
  const minio = spawnManaged({
    name: 'minio',
    command: binary,
    args: ['server', join(dir, 'data'), '--address', endpoint.slice('http://'.length)].concat([
      '--console-address',
      consoleAddress,
      '--quiet',
    ]),
    env: {
      MINIO_ROOT_USER: accessKey,
      MINIO_ROOT_PASSWORD: secretKey,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
      MINIO_REGION: region,
    },
  });
  const stop = async (): Promise<void> => {
    await minio.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const probe = async (): Promise<boolean> =>
      (await fetch(`${endpoint}/minio/health/ready`, { signal: AbortSignal.timeout(2_000) })).ok;
    await waitUntilReady({
      process: minio,
      probe,
      timeoutMs: options.readyTimeoutMs ?? 30_000,
      what: 'minio',
    });
    const bucket = options.bucket ?? `testbed-${randomBytes(4).toString('hex')}`;
    const client = s3ClientFor({ endpoint, accessKey, secretKey, region });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    return { endpoint, accessKey, secretKey, bucket, region, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
