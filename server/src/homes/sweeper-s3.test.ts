/**
 * The sweep of an S3 home on the test bed's real MinIO: every object under the home's prefix
 * goes (files, nested directories, directory markers, the home's own marker), a neighbouring
 * prefix that merely starts alike stays, and a home without a prefix (the whole bucket) is
 * refused with nothing removed.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { s3ClientFor, startS3, type S3Env } from '../../../test/env/testbed.js';
import { FsProvider } from '../dataprovider/account-schema.js';
import { createDataProvider, secretBoxFor } from '../dataprovider/index.js';
import { NO_MASTER_KEY } from '../dataprovider/secret-box.js';
import { newUser } from '../dataprovider/test-support.js';
import type { DataProvider, UserFilesystem } from '../dataprovider/types.js';
import { HomeSweeper } from './sweeper.js';

const HASH = '$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/';

void describe('home sweeper on S3', { timeout: 120_000 }, () => {
  let env: S3Env;
  let client: S3Client;
  let dir: string;
  let provider: DataProvider;
  let sweeper: HomeSweeper;

  before(async () => {
    env = await startS3();
    client = s3ClientFor(env);
    dir = mkdtempSync(join(tmpdir(), 'kubesftp-homes-s3-'));
    provider = await createDataProvider({ driver: 'sqlite', name: 'k.db', configDir: dir });
    await provider.initialize();
    sweeper = new HomeSweeper({
      provider,
      nodeId: 'node-s3',
      logger: pino({ level: 'silent' }),
      // The provider sealed the S3 secret; the server opens it with the same key.
      settings: { usersBaseDir: '/srv/sftp', secrets: secretBoxFor(NO_MASTER_KEY, provider) },
    });
  });
  after(async () => {
    await sweeper?.stop();
    await provider?.close();
    client?.destroy();
    await env?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function s3Home(prefix: string): UserFilesystem {
    return {
      provider: FsProvider.s3,
      s3config: {
        bucket: env.bucket,
        region: env.region,
        access_key: env.accessKey,
        access_secret: env.secretKey,
        endpoint: env.endpoint,
        storage_class: '',
        key_prefix: prefix,
        force_path_style: true,
      },
    };
  }

  async function put(key: string, body: Buffer): Promise<void> {
    await client.send(new PutObjectCommand({ Bucket: env.bucket, Key: key, Body: body }));
  }

  async function keys(prefix: string): Promise<string[]> {
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: env.bucket, Prefix: prefix }),
    );
    return (listed.Contents ?? []).map((o) => o.Key!).sort();
  }

  async function sha256Of(key: string): Promise<string> {
    const got = await client.send(new GetObjectCommand({ Bucket: env.bucket, Key: key }));
    return createHash('sha256')
      .update(await got.Body!.transformToByteArray())
      .digest('hex');
  }

  async function deleteWithHome(username: string, filesystem: UserFilesystem): Promise<void> {
    const user = await provider.addUser(newUser({ username, password: HASH, filesystem }));
    await provider.deleteUserAndHome(user.id);
  }

  it('removes every object under the home prefix and nothing beside it', async () => {
    const neighbour = randomBytes(5000);
    await put('tenants/alice/', Buffer.alloc(0));
    await put('tenants/alice/top.bin', randomBytes(70_000));
    await put('tenants/alice/a/', Buffer.alloc(0));
    await put('tenants/alice/a/b/deep.txt', Buffer.from('deep\n'));
    await put('tenants/alice/empty/', Buffer.alloc(0));
    await put('tenants/alice2/mine.bin', neighbour);
    const kept = createHash('sha256').update(neighbour).digest('hex');

    await deleteWithHome('alice', s3Home('tenants/alice'));
    await sweeper.sweep();

    const removals = JSON.stringify(await provider.listHomeRemovals());
    assert.equal(sweeper.counts().get('removed'), 1, removals);
    assert.deepEqual(await keys('tenants/alice/'), []);
    assert.deepEqual(await keys('tenants/alice2/'), ['tenants/alice2/mine.bin']);
    assert.equal(await sha256Of('tenants/alice2/mine.bin'), kept);
    assert.deepEqual(await provider.listHomeRemovals(), []);
  });

  it('refuses a home that is the whole bucket', async () => {
    await put('loose.txt', Buffer.from('stays\n'));
    await deleteWithHome('everything', s3Home(''));
    await sweeper.sweep();
    assert.equal(sweeper.counts().get('refused'), 1);
    assert.deepEqual(await keys('loose.txt'), ['loose.txt']);
    assert.deepEqual(await keys('tenants/alice2/'), ['tenants/alice2/mine.bin']);
  });
});
