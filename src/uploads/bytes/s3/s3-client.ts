import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { appError } from '../../../errors/app-error.js';
import type { Logger } from '../../../log.js';

export type S3Settings = Readonly<{
  bucket: string;
  /** An S3-compatible server's URL; undefined: AWS. */
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** Every key this server writes starts with it. */
  keyPrefix: string;
  /** Bounds a whole call, the SDK's retries included (a streamed part: each wait on S3). */
  requestTimeoutMs: number;
}>;

/**
 * The SDK client, as both AWS and S3-compatible servers take it. Credentials
 * come from the SDK's default chain (environment, profiles, roles); they are
 * never read, stored or logged here. Checksums are sent only where an
 * operation requires them: OpenStack Swift's s3api cannot read the SDK's
 * default aws-chunked bodies. The SDK logs through `logger` at warn and
 * above only (at info it would log every command's input).
 */
export function createS3Client(settings: S3Settings, logger: Logger): S3Client {
  const agent = { keepAlive: true, maxSockets: 256 };
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { httpAgent: new HttpAgent(agent), httpsAgent: new HttpsAgent(agent) },
    logger: {
      debug: () => {},
      info: () => {},
      warn: (...args: unknown[]) => logger.warn({ s3: args.map(String).join(' ') }, 'S3 client warning'),
      error: (...args: unknown[]) => logger.error({ s3: args.map(String).join(' ') }, 'S3 client error'),
    },
  });
}

/** S3 answers that mean "not now": the call may be retried later (503 + Retry-After for the client). */
const UNAVAILABLE_NAMES = new Set([
  'AbortError',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'NoSuchBucket',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'CredentialsProviderError',
]);
const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|ECONNABORTED)$/;

/** What an S3 failure was, in words safe to log (no request, no response, no credentials). */
export function describeS3Error(error: unknown): string {
  const e = error as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return `${e.name ?? 'Error'}${status ? ` (${status})` : ''}${e.code ? ` ${e.code}` : ''}: ${e.message ?? ''}`.trim();
}

export function s3ErrorName(error: unknown): string | undefined {
  return (error as { name?: string }).name;
}

export function s3Status(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/**
 * The client's answer to an S3 failure: the storage is unavailable (503,
 * Retry-After) when S3 is slow, unreachable, overloaded or refuses us (an
 * operator's problem, never the client's); anything else is rethrown as an
 * error whose message says what failed and nothing more.
 */
export function fromS3Error(error: unknown, what: string, logger: Logger): Error {
  const name = s3ErrorName(error) ?? '';
  const code = (error as { code?: string }).code ?? '';
  const status = s3Status(error) ?? 0;
  const unavailable =
    UNAVAILABLE_NAMES.has(name) ||
    NETWORK_CODES.test(code) ||
    status >= 500 ||
    (!(error instanceof S3ServiceException) && NETWORK_CODES.test(name));
  logger.warn({ s3: describeS3Error(error), call: what }, 'S3 call failed');
  if (unavailable) return appError('STORAGE_UNAVAILABLE');
  return new Error(`S3 ${what} failed: ${describeS3Error(error)}`);
}
