/**
 * The S3 client of one home, and the one place where S3's errors become core error codes.
 * Only the S3 backend's own modules import this (and with it the AWS SDK), and the backend
 * factory imports those lazily, when an S3 home is opened.
 */
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ErrorCode, KubesftpError } from '../errors.js';
import { OffLoopSha256 } from './s3-hash.js';
import type { S3HomeSettings } from './s3-settings.js';

/** Sockets one home's client keeps open at most: uploads, read-ahead and listings together. */
const MAX_SOCKETS = 64;

/** The SigV4 header naming the body's hash, or saying the body is not signed. */
const PAYLOAD_HASH_HEADER = 'x-amz-content-sha256';

/**
 * Over https the body is not hashed for the signature: TLS already guards it, and the hash
 * would cost the event loop about a second per GiB uploaded. Over plain HTTP the signature is
 * what guards it, so it stays (hashed off the loop, see s3-hash.ts).
 */
function unsignedPayloadOverTls(client: S3Client): void {
  client.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { protocol?: string; headers?: Record<string, string> };
      if (request.protocol === 'https:' && request.headers !== undefined) {
        request.headers[PAYLOAD_HASH_HEADER] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', name: 'unsignedPayloadOverTls' },
  );
}

export function createS3Client(settings: S3HomeSettings): S3Client {
  // The pinned SDK runs on Node 20; its notice about future releases needing Node 22 would
  // land on stderr between the JSON log lines.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS };
  const client = new S3Client({
    region: settings.region,
    ...(settings.endpoint === '' ? {} : { endpoint: settings.endpoint }),
    forcePathStyle: settings.forcePathStyle,
    // No key with the account: the SDK's default chain (AWS_ACCESS_KEY_ID and
    // AWS_SECRET_ACCESS_KEY, web identity, the instance role), as the operator's pods use.
    ...(settings.accessKey === ''
      ? {}
      : { credentials: { accessKeyId: settings.accessKey, secretAccessKey: settings.secretKey } }),
    // Checksums of every part in JavaScript would cost more CPU than the transfer itself; the
    // request signature already covers each body (or TLS does).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The signature's hash of each part body, off the event loop (see s3-hash.ts).
    sha256: OffLoopSha256,
    maxAttempts: 3,
    requestHandler: {
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
    },
  });
  unsignedPayloadOverTls(client);
  return client;
}

const CODES_BY_NAME: Readonly<Record<string, ErrorCode>> = {
  NoSuchKey: ErrorCode.NO_SUCH_FILE,
  NotFound: ErrorCode.NO_SUCH_FILE,
  NoSuchUpload: ErrorCode.FAILURE,
  AccessDenied: ErrorCode.PERMISSION_DENIED,
  Forbidden: ErrorCode.PERMISSION_DENIED,
  PreconditionFailed: ErrorCode.FAILURE,
};

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
}

/** True when S3 answered that the object (or key) is not there. */
export function isNotFound(err: unknown): boolean {
  return err instanceof S3ServiceException
    ? err.name === 'NoSuchKey' || err.name === 'NotFound' || statusOf(err) === 404
    : false;
}

/** True when a conditional request found the object changed (another ETag). */
export function isPreconditionFailed(err: unknown): boolean {
  return statusOf(err) === 412 || (err as Error | undefined)?.name === 'PreconditionFailed';
}

/**
 * An S3 failure as a core error: missing keys are NO_SUCH_FILE, refusals PERMISSION_DENIED,
 * the rest FAILURE with what was being done. The message never holds credentials.
 */
export function fromS3(err: unknown, doing: string): KubesftpError {
  if (err instanceof KubesftpError) return err;
  const name = (err as Error | undefined)?.name ?? 'Error';
  const status = statusOf(err);
  const byStatus =
    status === 404
      ? ErrorCode.NO_SUCH_FILE
      : status === 403
        ? ErrorCode.PERMISSION_DENIED
        : undefined;
  const code = CODES_BY_NAME[name] ?? byStatus ?? ErrorCode.FAILURE;
  const detail = err instanceof Error ? err.message : String(err);
  return new KubesftpError(code, `S3 ${doing}: ${name}${status ? ` (${status})` : ''}: ${detail}`, {
    cause: err,
  });
}

/** Runs one S3 call, mapping its failure. */
export async function s3Call<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw fromS3(err, doing);
  }
}
