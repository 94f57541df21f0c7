/**
 * The Vfs contract (contract.ts) on every backend: memory, local, and S3 on the test bed's
 * real MinIO. A backend joins by adding a fixture here.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { s3ClientFor, startS3 } from '../../../test/env/testbed.js';
import { runVfsContract } from './contract.js';
import { DirectVfs } from './direct.js';
import { LocalVfs } from './local.js';
import { MemoryVfs } from './memory.js';
import { S3Backend } from './s3.js';
import { s3HomeSettings } from './s3-settings.js';

runVfsContract({
  name: 'memory',
  atomicUploads: false,
  open: () => Promise.resolve({ vfs: new MemoryVfs(), cleanup: () => Promise.resolve() }),
});

runVfsContract({
  name: 'local',
  atomicUploads: false,
  open: async () => {
    const base = await realpath(await mkdtemp(join(tmpdir(), 'kubesftp-contract-')));
    await mkdir(join(base, 'home'));
    return {
      vfs: new LocalVfs({ root: join(base, 'home') }),
      cleanup: () => rm(base, { recursive: true, force: true }),
    };
  },
});

runVfsContract({
  name: 's3',
  atomicUploads: true,
  timeoutMs: 120_000,
  open: async () => {
    const env = await startS3();
    const prefix = `homes/${randomBytes(4).toString('hex')}/`;
    const settings = s3HomeSettings(
      {
        bucket: env.bucket,
        region: env.region,
        access_key: env.accessKey,
        access_secret: '',
        endpoint: env.endpoint,
        storage_class: '',
        key_prefix: prefix,
        force_path_style: true,
        upload_part_size: 5,
        upload_concurrency: 2,
        download_part_size: 5,
        download_concurrency: 2,
      },
      env.secretKey,
    );
    const client = s3ClientFor(env);
    const backend = new S3Backend({ settings, umask: 0o022, uid: 0, gid: 0, client });
    return { vfs: new DirectVfs(backend), cleanup: () => env.stop() };
  },
});
