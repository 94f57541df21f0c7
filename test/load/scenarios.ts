/**
 * One measurement each, against one server: a timed `sftp -b` session plus the checks that make
 * the figure trustworthy (sha256 of what arrived, file counts of what was listed).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { commandMs, runSftp, type BenchServer } from './client.js';
import { directoryDigest, sha256File, smallFileName } from './files.js';
import { sampleRss } from './rss.js';

export const bigFileName = 'big.bin';
export const smallDirName = 'small';
const downloadName = 'big-download.bin';
const smallDownloadName = 'small-download';
const rssIntervalMs = 100;
const shortTimeoutMs = 60_000;
/** A trivial command after the measured one: its echo marks where the measured one ended. */
const endMarker = 'pwd';

/** What every scenario needs: the client key, the local files and their digests. */
export interface BenchData {
  keyPath: string;
  /** Client working directory holding big.bin and small/. */
  clientDir: string;
  bigBytes: number;
  bigSha256: string;
  smallCount: number;
  smallDigest: string;
  /** Bound for one 1 GiB transfer. */
  bigTimeoutMs: number;
}

export interface ScenarioOptions {
  data: BenchData;
  server: BenchServer;
  cipher?: string;
  /** Check the bytes that arrived (done once per server: hashing a gigabyte is not free). */
  verify?: boolean;
  /**
   * Sample the server's memory during the transfer. Reading /proc every 100 ms may slow the
   * transfer it watches, so timed runs leave it off.
   */
  sampleMemory?: boolean;
}

/** An upload is checked on the server's disk, which a server holding files in memory lacks. */
function checksUpload(options: ScenarioOptions): boolean {
  return options.verify === true && options.server.clearHome === undefined;
}

function mismatch(what: string, server: BenchServer): KubesftpError {
  return new KubesftpError(
    ErrorCode.FAILURE,
    `${server.name}: ${what} does not match the source (sha256)`,
  );
}

/** One public-key login running `pwd`: wall time of the whole client session, ms. */
export async function loginOnce(options: ScenarioOptions): Promise<number> {
  const result = await runSftp({
    server: options.server,
    keyPath: options.data.keyPath,
    commands: ['pwd'],
    cwd: options.data.clientDir,
    timeoutMs: shortTimeoutMs,
  });
  if (!result.stdout.includes('Remote working directory:')) {
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `${options.server.name}: pwd printed no working directory`,
    );
  }
  return result.elapsedMs;
}

export interface UploadResult {
  elapsedMs: number;
  /** Summed RSS of the serving processes, KiB, sampled during the session. */
  rssSamplesKiB: number[];
}

/** Uploads big.bin into a fresh server-side path, sampling the server's memory when asked. */
export async function uploadBig(options: ScenarioOptions): Promise<UploadResult> {
  const { data, server } = options;
  const target = join(server.homeDir, bigFileName);
  await rm(target, { force: true });
  await server.clearHome?.();
  const sampler =
    options.sampleMemory === true
      ? sampleRss(() => server.servingPids(), rssIntervalMs)
      : undefined;
  const command = `put ${bigFileName} ${bigFileName}`;
  let elapsedMs: number;
  let rssSamplesKiB: number[];
  try {
    const result = await runSftp({
      server,
      keyPath: data.keyPath,
      commands: [command, endMarker],
      cwd: data.clientDir,
      cipher: options.cipher,
      timeoutMs: data.bigTimeoutMs,
    });
    elapsedMs = commandMs(result, command, endMarker);
  } finally {
    rssSamplesKiB = (await sampler?.stop()) ?? [];
  }
  if (checksUpload(options) && (await sha256File(target)) !== data.bigSha256) {
    throw mismatch('the uploaded file on the server', server);
  }
  return { elapsedMs, rssSamplesKiB };
}

/** Downloads the server's big.bin (left by an upload) to a fresh local file. */
export async function downloadBig(options: ScenarioOptions): Promise<number> {
  const { data, server } = options;
  const local = join(data.clientDir, downloadName);
  await rm(local, { force: true });
  const command = `get ${bigFileName} ${downloadName}`;
  const result = await runSftp({
    server,
    keyPath: data.keyPath,
    commands: [command, endMarker],
    cwd: data.clientDir,
    cipher: options.cipher,
    timeoutMs: data.bigTimeoutMs,
  });
  const verified = options.verify !== true || (await sha256File(local)) === data.bigSha256;
  await rm(local, { force: true });
  if (!verified) throw mismatch('the downloaded file', server);
  return commandMs(result, command, endMarker);
}

/** One recursive transfer of the small files: the measured command's time, ms. */
async function copySmall(options: ScenarioOptions, command: string): Promise<number> {
  const result = await runSftp({
    server: options.server,
    keyPath: options.data.keyPath,
    commands: [command, endMarker],
    cwd: options.data.clientDir,
    timeoutMs: shortTimeoutMs * 5,
  });
  return commandMs(result, command, endMarker);
}

/** Uploads the small-file directory with one recursive put into a fresh server-side directory. */
export async function uploadSmall(options: ScenarioOptions): Promise<number> {
  const { data, server } = options;
  const target = join(server.homeDir, smallDirName);
  await rm(target, { recursive: true, force: true });
  await server.clearHome?.();
  const elapsedMs = await copySmall(options, `put -r ${smallDirName}`);
  if (checksUpload(options) && (await directoryDigest(target)) !== data.smallDigest) {
    throw mismatch(`the uploaded ${smallDirName}/ directory`, server);
  }
  return elapsedMs;
}

/** Downloads the server's small-file directory (left by uploadSmall) with one recursive get. */
export async function downloadSmall(options: ScenarioOptions): Promise<number> {
  const { data, server } = options;
  const local = join(data.clientDir, smallDownloadName);
  await rm(local, { recursive: true, force: true });
  const elapsedMs = await copySmall(options, `get -r ${smallDirName} ${smallDownloadName}`);
  const verified = options.verify !== true || (await directoryDigest(local)) === data.smallDigest;
  await rm(local, { recursive: true, force: true });
  if (!verified) throw mismatch(`the downloaded ${smallDirName}/ directory`, server);
  return elapsedMs;
}

/** Lists the small-file directory with `ls -l` and checks that every file was listed. */
export async function listSmall(options: ScenarioOptions): Promise<number> {
  const { data, server } = options;
  const command = `ls -l ${smallDirName}`;
  const result = await runSftp({
    server,
    keyPath: data.keyPath,
    commands: [command, endMarker],
    cwd: data.clientDir,
    timeoutMs: shortTimeoutMs,
  });
  const listed = new Set(result.stdout.split('\n').map((line) => line.trim().split('/').pop()));
  for (let index = 0; index < data.smallCount; index++) {
    if (!listed.has(smallFileName(index))) {
      throw new KubesftpError(
        ErrorCode.FAILURE,
        `${server.name}: ls -l did not list ${smallFileName(index)}`,
      );
    }
  }
  return commandMs(result, command, endMarker);
}
