/**
 * The S3 part of `make bench`: the large file uploaded and downloaded through kubesftp to an S3
 * home on the test bed's MinIO, beside the same transfers made directly with the AWS SDK
 * (@aws-sdk/lib-storage's Upload with the account's part size and concurrency, and one
 * GetObject stream) on the same machine and the same MinIO. The ratio is kubesftp/direct;
 * the target is 0.8 or more.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { s3ClientFor, startS3, type S3Env } from '../env/testbed.js';
import type { BenchServer } from './client.js';
import { startKubesftp } from './kubesftp.js';
import { errorText } from './results.js';
import { bigFileName, downloadBig, uploadBig, type BenchData } from './scenarios.js';
import type { S3BenchRow, S3BenchSection } from './s3-bench-format.js';

const mib = 1024 * 1024;
/** The account's tuning, which the direct upload copies: 8 MiB parts, 4 in flight. */
const PART_MIB = 8;
const CONCURRENCY = 4;
const PREFIX = 'bench/';

async function objectSha256(client: S3Client, bucket: string, key: string): Promise<string> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of got.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function directUpload(client: S3Client, s3: S3Env, data: BenchData): Promise<number> {
  return timed(() =>
    new Upload({
      client,
      params: {
        Bucket: s3.bucket,
        Key: `direct/${bigFileName}`,
        Body: createReadStream(join(data.clientDir, bigFileName)),
      },
      partSize: PART_MIB * mib,
      queueSize: CONCURRENCY,
    }).done(),
  );
}

async function directDownload(client: S3Client, s3: S3Env, data: BenchData): Promise<number> {
  const local = join(data.clientDir, 'direct-download.bin');
  const ms = await timed(async () => {
    const got = await client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: `direct/${bigFileName}` }),
    );
    await pipeline(got.Body as Readable, createWriteStream(local));
  });
  await rm(local, { force: true });
  return ms;
}

interface Runner {
  s3: S3Env;
  client: S3Client;
  server: BenchServer;
  data: BenchData;
}

/** One run of each way, in an order that flips every run; the first run checks the bytes. */
async function measureRun(runner: Runner, run: number): Promise<Record<string, number>> {
  const { s3, client, server, data } = runner;
  const verify = run === 0;
  const ways = {
    kubesftpUpload: async () => (await uploadBig({ data, server })).elapsedMs,
    directUpload: () => directUpload(client, s3, data),
    kubesftpDownload: () => downloadBig({ data, server, verify }),
    directDownload: () => directDownload(client, s3, data),
  };
  const order =
    run % 2 === 0
      ? (['kubesftpUpload', 'directUpload', 'kubesftpDownload', 'directDownload'] as const)
      : (['directUpload', 'kubesftpUpload', 'directDownload', 'kubesftpDownload'] as const);
  const ms: Record<string, number> = {};
  for (const way of order) {
    ms[way] = await ways[way]();
    if (verify && way.endsWith('Upload')) {
      const key = way === 'kubesftpUpload' ? `${PREFIX}${bigFileName}` : `direct/${bigFileName}`;
      if ((await objectSha256(client, s3.bucket, key)) !== data.bigSha256) {
        throw new Error(`${way}: the object in S3 does not match the source (sha256)`);
      }
    }
  }
  return ms;
}

export async function measureS3(options: {
  data: BenchData;
  workDir: string;
  publicKey: string;
  runs: number;
  sizeMiB: number;
  log: (line: string) => void;
}): Promise<S3BenchSection> {
  const { data, log } = options;
  const setup =
    `${options.sizeMiB} MiB to MinIO on this machine, best of ${options.runs}; ` +
    `kubesftp: OpenSSH sftp put/get to an S3 home (${PART_MIB} MiB parts, ${CONCURRENCY} in flight); ` +
    `direct: lib-storage Upload with the same part size and queue, one GetObject stream`;
  const rows: S3BenchRow[] = [{ direction: 'upload' }, { direction: 'download' }];
  let s3: S3Env | undefined;
  let server: BenchServer | undefined;
  try {
    log('starting MinIO and kubesftp with an S3 home');
    s3 = await startS3();
    const client = s3ClientFor(s3);
    server = await startKubesftp({
      workDir: options.workDir,
      publicKey: options.publicKey,
      name: 'kubesftp-s3',
      user: {
        filesystem: {
          provider: 1,
          s3config: {
            bucket: s3.bucket,
            region: s3.region,
            access_key: s3.accessKey,
            access_secret: s3.secretKey,
            endpoint: s3.endpoint,
            key_prefix: PREFIX,
            force_path_style: true,
            upload_part_size: PART_MIB,
            upload_concurrency: CONCURRENCY,
          },
        },
      },
    });
    const best = { upload: [0, 0], download: [0, 0] };
    const toMiBps = (ms: number): number => options.sizeMiB / (ms / 1000);
    for (let run = 0; run < options.runs; run++) {
      log(`S3 ${options.sizeMiB} MiB upload and download, run ${run + 1}`);
      const ms = await measureRun({ s3, client, server, data }, run);
      best.upload = [
        Math.max(best.upload[0]!, toMiBps(ms.kubesftpUpload!)),
        Math.max(best.upload[1]!, toMiBps(ms.directUpload!)),
      ];
      best.download = [
        Math.max(best.download[0]!, toMiBps(ms.kubesftpDownload!)),
        Math.max(best.download[1]!, toMiBps(ms.directDownload!)),
      ];
    }
    client.destroy();
    for (const row of rows) [row.kubesftp, row.direct] = best[row.direction];
  } catch (err) {
    for (const row of rows) row.error = errorText(err);
  } finally {
    await server?.stop();
    await s3?.stop();
  }
  return { setup, rows };
}
