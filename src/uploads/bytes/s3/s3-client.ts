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
      warn: (...args: unknown[]) => logger.warn({ s3: args.map(describeLogged).join(' ') }, 'S3 client warning'),
      error: (...args: unknown[]) => {
        // A failed command: logged once by the call that made it (fromS3Error), with its fields, or not at all
        // when the call expected it (a key that does not exist yet).
        if (args.length === 1 && isFailedCommand(args[0])) return;
        logger.error({ s3: args.map(describeLogged).join(' ') }, 'S3 client error');
      },
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

/** What the SDK's logger middleware logs for a command that failed: its name, input and error. */
const isFailedCommand = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && 'commandName' in value && 'error' in value;

/**
 * One thing the SDK logs, in words: an error as `describeS3Error` tells it, anything else as text (an object
 * the SDK hands over would otherwise read "[object Object]"). Never the request or its credentials: the SDK
 * logs only messages and errors at warn and above.
 */
function describeLogged(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error || (typeof value === 'object' && value !== null && '$metadata' in value)) {
    return describeS3Error(value);
  }
  try {
    return JSON.stringify(value)?.slice(0, 500) ?? String(value);
  } catch {
    return String(value);
  }
}

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
  const e = error as { message?: string; Code?: string };
  // Fields of their own, to search and count by: name ("NoSuchUpload"), status (404), code (an S3 error
  // code or a network one, "ECONNREFUSED"), and the message.
  logger.warn(
    { s3: { name, status: status || undefined, code: code || e.Code, message: e.message }, call: what },
    'S3 call failed',
  );
  if (unavailable) return appError('STORAGE_UNAVAILABLE');
  return new Error(`S3 ${what} failed: ${describeS3Error(error)}`);
}
