/**
 * `kubesftp portable` flags: the spec's portable flags (one directory or one S3 prefix, one
 * generated account), plus the S3 settings an account has that the spec's flags lack (path-style
 * addressing, part size, concurrency) and the interface to advertise on.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { PERMISSIONS, type Permission, type S3Config } from '../dataprovider/types.js';
import { parseNonNegativeInt } from './options.js';

export interface PortableOptions {
  directory: string;
  /** Empty: generated. */
  username: string;
  /** Empty: generated, unless public keys are given. */
  password: string;
  publicKeys: string[];
  permissions: Permission[];
  /** 0: a random free port. */
  sftpdPort: number;
  sshCommands: string[];
  fsProvider: 0 | 1;
  /** The account's s3config (region defaults to us-east-1). */
  s3: S3Config;
  advertiseService: boolean;
  advertiseCredentials: boolean;
  /** IPv4 address of the interface mDNS answers on; empty: every interface. */
  advertiseInterface: string;
  logFilePath: string;
  logVerbose: boolean;
}

/** The S3 secret may come from the environment, so it stays out of `ps`. */
export const S3_SECRET_ENV = 'KUBESFTP_PORTABLE_S3_ACCESS_SECRET';

const list = (raw: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== ''),
];

function parseProvider(raw: string): number {
  const value = parseNonNegativeInt(raw);
  if (value > 1) throw new InvalidArgumentError('expected 0 (local) or 1 (S3)');
  return value;
}

function parseBoolFlag(raw: string): boolean {
  const word = raw.trim().toLowerCase();
  if (['1', 'true'].includes(word)) return true;
  if (['0', 'false'].includes(word)) return false;
  throw new InvalidArgumentError('expected true or false');
}

export function addPortableOptions(command: Command): Command {
  const bool = (flags: string, description: string): Option =>
    new Option(flags, description).default(false).preset('true').argParser(parseBoolFlag);
  return command
    .option('-d, --directory <path>', 'directory to serve, absolute or relative', '.')
    .option('-u, --username <name>', 'account name; empty generates one', '')
    .option('-p, --password <password>', 'password; empty generates one unless keys are given', '')
    .option('-k, --public-key <key...>', 'authorized_keys line; repeat for several', list)
    .option('-g, --permissions <perm...>', 'permissions on "/"; "*" is all', list)
    .option('-s, --sftpd-port <port>', 'SFTP port; 0 picks a free one', parseNonNegativeInt, 0)
    .option('-c, --ssh-commands <cmd...>', 'SSH commands to enable; "*" is all', list)
    .option('-f, --fs-provider <n>', '0 local directory, 1 S3 prefix', parseProvider, 0)
    .option('--s3-bucket <name>', 'S3 bucket', '')
    .option('--s3-region <region>', 'S3 region', '')
    .option('--s3-access-key <key>', 'S3 access key', '')
    .option('--s3-access-secret <secret>', `S3 secret key (or env ${S3_SECRET_ENV})`, '')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint; empty is AWS', '')
    .option('--s3-storage-class <class>', 'storage class of uploads', '')
    .option('--s3-key-prefix <prefix>', 'serve only the objects under this prefix', '')
    .addOption(bool('--s3-force-path-style [bool]', 'path-style addressing (MinIO and the like)'))
    .option(
      '--s3-upload-part-size <MiB>',
      'part size of uploads; 0 default',
      parseNonNegativeInt,
      0,
    )
    .option(
      '--s3-upload-concurrency <n>',
      'parts uploaded at once; 0 default',
      parseNonNegativeInt,
      0,
    )
    .addOption(bool('-S, --advertise-service [bool]', 'advertise _sftp-ssh._tcp over mDNS'))
    .addOption(
      bool('-C, --advertise-credentials [bool]', 'put user and password in the TXT record'),
    )
    .option('--advertise-interface <ipv4>', 'interface address mDNS answers on; empty: all', '')
    .option('-l, --log-file-path <path>', 'log file; "" logs to stderr', '')
    .addOption(bool('--log-verbose [bool]', 'debug logging'));
}

interface RawPortable {
  directory: string;
  username: string;
  password: string;
  publicKey?: string[];
  permissions?: string[];
  sftpdPort: number;
  sshCommands?: string[];
  fsProvider: number;
  s3Bucket: string;
  s3Region: string;
  s3AccessKey: string;
  s3AccessSecret: string;
  s3Endpoint: string;
  s3StorageClass: string;
  s3KeyPrefix: string;
  s3ForcePathStyle: boolean;
  s3UploadPartSize: number;
  s3UploadConcurrency: number;
  advertiseService: boolean;
  advertiseCredentials: boolean;
  advertiseInterface: string;
  logFilePath: string;
  logVerbose: boolean;
}

/** Checks what the flags cannot check alone; throws InvalidArgumentError with the reason. */
export function toPortableOptions(
  raw: RawPortable,
  env: Readonly<Record<string, string | undefined>>,
): PortableOptions {
  const fsProvider = raw.fsProvider === 1 ? 1 : 0;
  const s3: S3Config = {
    bucket: raw.s3Bucket,
    region: raw.s3Region || 'us-east-1',
    access_key: raw.s3AccessKey,
    access_secret: raw.s3AccessSecret || (env[S3_SECRET_ENV] ?? ''),
    endpoint: raw.s3Endpoint,
    storage_class: raw.s3StorageClass,
    key_prefix: raw.s3KeyPrefix,
    force_path_style: raw.s3ForcePathStyle,
    upload_part_size: raw.s3UploadPartSize,
    upload_concurrency: raw.s3UploadConcurrency,
  };
  if (fsProvider === 1 && s3.bucket === '') {
    throw new InvalidArgumentError('--fs-provider 1 needs --s3-bucket');
  }
  if (fsProvider === 0 && Object.entries(raw).some(([key, v]) => key.startsWith('s3') && v)) {
    throw new InvalidArgumentError('--s3-* flags need --fs-provider 1');
  }
  const permissions = raw.permissions ?? ['list', 'download'];
  const unknown = permissions.filter((p) => !(PERMISSIONS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `--permissions: unknown ${unknown.join(', ')} (known: ${PERMISSIONS.join(', ')})`,
    );
  }
  if (raw.sftpdPort > 65535) throw new InvalidArgumentError('--sftpd-port: at most 65535');
  return {
    directory: raw.directory,
    username: raw.username,
    password: raw.password,
    publicKeys: raw.publicKey ?? [],
    permissions: permissions as Permission[],
    sftpdPort: raw.sftpdPort,
    sshCommands: raw.sshCommands ?? ['md5sum', 'sha1sum', 'cd', 'pwd'],
    fsProvider,
    s3,
    advertiseService: raw.advertiseService,
    advertiseCredentials: raw.advertiseCredentials,
    advertiseInterface: raw.advertiseInterface,
    logFilePath: raw.logFilePath,
    logVerbose: raw.logVerbose,
  };
}
