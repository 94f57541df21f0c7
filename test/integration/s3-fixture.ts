/**
 * A `kubesftp serve` beside the test bed's real MinIO, with accounts whose homes are S3
 * prefixes, and the SDK view of what the server stored: objects are read back with
 * @aws-sdk/client-s3, never through the server under test.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { s3ClientFor, startS3, type S3Env } from '../env/testbed.js';
import { makeKeyPair, startServer, type ClientAuth, type RunningServer } from './harness.js';

export const MiB = 1024 * 1024;

export interface S3Fixture {
  s3: S3Env;
  client: S3Client;
  server: RunningServer;
  /** A scratch directory for the client side (local files, keys). */
  work: string;
  keyPath: string;
  publicKey: string;
  /** Creates an S3 account under `<username>/`; extra properties override the defaults. */
  addS3User(username: string, extra?: Record<string, unknown>): Promise<ClientAuth>;
  /** Creates an account with a local home under the work directory. */
  addLocalUser(username: string, extra?: Record<string, unknown>): Promise<ClientAuth>;
  /** Sorted keys under a prefix. */
  keys(prefix: string): Promise<string[]>;
  /** sha256 of an object's bytes, read with the SDK. */
  objectSha256(key: string): Promise<string>;
  head(key: string): Promise<{ size: number; mtime: Date; etag: string }>;
  /** Multipart uploads still open under a prefix. */
  openUploads(prefix: string): Promise<string[]>;
  /** used_quota_size and used_quota_files as the REST API reports them. */
  usage(username: string): Promise<{ size: number; files: number }>;
  stop(): Promise<void>;
}

export interface S3FixtureOptions {
  /** Environment of the server (KUBESFTP_* settings). */
  env?: Record<string, string>;
  /** Started instead of the fixture's own MinIO, and left running by stop(). */
  s3?: S3Env;
}

export function s3configFor(
  s3: S3Env,
  prefix: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    bucket: s3.bucket,
    region: s3.region,
    access_key: s3.accessKey,
    access_secret: s3.secretKey,
    endpoint: s3.endpoint,
    key_prefix: prefix,
    force_path_style: true,
    upload_part_size: 5,
    upload_concurrency: 2,
    ...extra,
  };
}

export async function startS3Fixture(options: S3FixtureOptions = {}): Promise<S3Fixture> {
  const ownS3 = options.s3 === undefined;
  const s3 = options.s3 ?? (await startS3());
  const client = s3ClientFor(s3);
  const work = await mkdtemp(join(tmpdir(), 'kubesftp-s3-it-'));
  let server: RunningServer | undefined;
  const stop = async (): Promise<void> => {
    await server?.stop();
    client.destroy();
    if (ownS3) await s3.stop();
    await rm(work, { recursive: true, force: true });
  };
  try {
    server = await startServer(options.env);
    const key = await makeKeyPair(work, 'ed25519');
    const running = server;
    const create = async (body: Record<string, unknown>): Promise<ClientAuth> => {
      const created = await running.api('POST', '/api/v1/user', {
        public_keys: [key.publicKey],
        password: `pw-${String(body.username)}`,
        permissions: { '/': ['*'] },
        status: 1,
        ...body,
      });
      if (created.status !== 201) throw new Error(`user not created: ${JSON.stringify(created)}`);
      return { username: String(body.username), keyPath: key.privatePath };
    };
    const listed = async (prefix: string) => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, ContinuationToken: token }),
        );
        keys.push(...(page.Contents ?? []).map((object) => object.Key!));
        token = page.NextContinuationToken;
      } while (token !== undefined);
      return keys.sort();
    };
    return {
      s3,
      client,
      server,
      work,
      keyPath: key.privatePath,
      publicKey: key.publicKey,
      addS3User: (username, extra = {}) => {
        const { s3config, ...rest } = extra as { s3config?: Record<string, unknown> };
        return create({
          username,
          // Required as for every account, and never created: an S3 home uses no local disk.
          home_dir: join(work, 'unused-home', username),
          filesystem: { provider: 1, s3config: s3configFor(s3, `${username}/`, s3config) },
          ...rest,
        });
      },
      addLocalUser: (username, extra = {}) =>
        create({ username, home_dir: join(work, 'local', username), ...extra }),
      keys: listed,
      objectSha256: async (key) => {
        const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
        const hash = createHash('sha256');
        for await (const chunk of got.Body as AsyncIterable<Buffer>) hash.update(chunk);
        return hash.digest('hex');
      },
      head: async (key) => {
        const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
        return { size: head.ContentLength ?? -1, mtime: head.LastModified!, etag: head.ETag ?? '' };
      },
      openUploads: async (prefix) => {
        // Listed whole and filtered: MinIO matches Prefix against whole keys only.
        const open = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
        return (open.Uploads ?? [])
          .map((upload) => upload.Key!)
          .filter((key) => key.startsWith(prefix));
      },
      usage: async (username) => {
        const got = await running.api('GET', `/api/v1/user?username=${username}`);
        const user = (got.body as unknown as Record<string, number>[])[0]!;
        return { size: user.used_quota_size!, files: user.used_quota_files! };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
