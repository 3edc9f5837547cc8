import { GetObjectCommand } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AppError } from '../../src/errors/app-error.js';
import { createS3Client, fromS3Error } from '../../src/uploads/bytes/s3/s3-client.js';
import { freshBucket, s3Client } from '../helpers/s3.js';
import { killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';

const s3 = inject('s3');
let bucket: string;

/** A logger whose lines the test reads. */
function captured() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const settings = (endpoint: string) => ({
  bucket,
  endpoint,
  region: s3.region,
  forcePathStyle: true,
  keyPrefix: 'log-test/',
  requestTimeoutMs: 5000,
});

beforeAll(async () => {
  // The server reads its credentials from the environment (the SDK's default chain), and must print no warning of
  // the SDK's without being told to.
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  delete process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  bucket = await freshBucket(s3Client(s3));
});
afterAll(() => killAllServerProcesses());

describe('what an S3 failure leaves in the log', () => {
  it('a refused call is one line with its name, status and code as fields; the SDK adds no "[object Object]" line', async () => {
    const { logger, lines } = captured();
    const client = createS3Client(settings(s3.endpoint), logger);
    const error = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'log-test/never-written' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeDefined();
    // The SDK's own line for the failed command is left out: its caller decides whether it is a failure at all.
    expect(lines).toEqual([]);
    const thrown = fromS3Error(error, 'GetObject', logger);
    expect(thrown).not.toBeInstanceOf(AppError);
    expect(thrown.message).toMatch(/^S3 GetObject failed: NoSuchKey \(404\)/);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      msg: 'S3 call failed',
      call: 'GetObject',
      s3: { name: 'NoSuchKey', status: 404 },
    });
    expect(JSON.stringify(lines)).not.toContain('[object Object]');
  });

  it('an unreachable endpoint is STORAGE_UNAVAILABLE, logged with the network code', async () => {
    const { logger, lines } = captured();
    const client = createS3Client({ ...settings('http://127.0.0.1:1'), requestTimeoutMs: 1000 }, logger);
    const error = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'log-test/x' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    const thrown = fromS3Error(error, 'GetObject', logger);
    expect(thrown).toBeInstanceOf(AppError);
    expect((thrown as AppError).code).toBe('STORAGE_UNAVAILABLE');
    expect(lines.filter((l) => l.msg === 'S3 call failed')).toHaveLength(1);
    expect(lines[0]).toMatchObject({ s3: { code: 'ECONNREFUSED' }, call: 'GetObject' });
    expect(JSON.stringify(lines)).not.toContain('[object Object]');
  });

  it('a server started with STORAGE=s3 prints no warning of the SDK on this Node', async () => {
    const server = await startServerProcess({
      STORAGE: 's3',
      S3_BUCKET: bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_FORCE_PATH_STYLE: 'true',
      S3_KEY_PREFIX: 'log-test/',
      CHUNK_SIZE_BYTES: String(5 * 1024 * 1024),
      REDIS_URL: inject('redisUrl'),
      REDIS_KEY_PREFIX: `s3-logging-${process.pid}:`,
    });
    await server.waitForOutput(/serving tus uploads/, 30_000);
    await fetch(`${server.url}/files`, { method: 'OPTIONS' });
    await server.kill('SIGTERM');
    expect(server.output()).not.toMatch(/Warning|node >=/);
    expect(server.output()).toMatch(/serving tus uploads/);
  });
});
