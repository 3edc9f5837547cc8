import { randomBytes, randomUUID } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { sha256 } from '../helpers/digest.js';
import { offsetOn, patchOn, runUntilExit, sharedEnv, timedPatch, tusUpload } from '../helpers/instances.js';
import { openPatch } from '../helpers/raw-patch.js';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';
import { createUploadOn, killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';
import { type SwiftProxy, startSwiftProxy } from '../helpers/swift.js';
import { keysOfUpload } from '../helpers/upload-keys.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

let storage: S3Storage;
let redis: Redis;
beforeAll(async () => {
  storage = await s3Storage();
  redis = new Redis(inject('redisUrl'));
});
afterAll(() => redis.disconnect());
afterEach(() => killAllServerProcesses());

async function objectSha256(key: string): Promise<string> {
  const reply = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }));
  return sha256(
    Buffer.from(await (reply.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()),
  );
}

describe('S3 across instances (no shared disk)', () => {
  it('PATCHes of one upload landing on two instances in turn make a byte-identical object', async () => {
    const env = sharedEnv(storage.env());
    const [a, b] = await Promise.all([startServerProcess(env()), startServerProcess(env())]);
    const data = randomBytes(3 * PART + 333);
    const pathname = (await createUploadOn(a, data.length)).path;
    const cuts = [0, 3 * MiB, PART + 7, 2 * PART, data.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const server = i % 2 === 0 ? a : b;
      expect(await patchOn(server, pathname, cuts[i] as number, data.subarray(cuts[i], cuts[i + 1]))).toBe(204);
      expect((await offsetOn(i % 2 === 0 ? b : a, pathname)).offset).toBe(cuts[i + 1]);
    }
    const id = pathname.split('/').pop() as string;
    const prefix = env().S3_KEY_PREFIX as string;
    expect(await objectSha256(`${prefix}${id}`)).toBe(sha256(data));
    // Computed from a re-read, since no one instance saw every byte.
    expect(await redis.hget(keysOfUpload(env().REDIS_KEY_PREFIX as string, id).upload, 'sha256')).toBe(sha256(data));
  });

  it('kill -9 mid-PATCH: the other instance answers HEAD at what S3 holds and the upload resumes byte-identical', async () => {
    const env = sharedEnv(storage.env());
    const [a, b] = await Promise.all([startServerProcess(env()), startServerProcess(env())]);
    const data = randomBytes(3 * PART);
    const pathname = (await createUploadOn(a, data.length)).path;
    const patch = openPatch(a.url, pathname, 0, data.length);
    await patch.write(data.subarray(0, PART + 2 * MiB));
    const id = pathname.split('/').pop() as string;
    const record = keysOfUpload(env().REDIS_KEY_PREFIX as string, id).upload;
    await waitFor(async () => Number(await redis.hget(record, 'offset')) >= PART, { what: 'part 1 to be recorded' });
    await a.kill();
    const head = await waitFor(
      async () => {
        const h = await offsetOn(b, pathname);
        return h.status === 200 ? h : undefined;
      },
      { what: 'HEAD on the other instance', timeoutMs: 20_000 },
    );
    // Only what S3 acknowledged counts: part 1, not the 2 MiB of part 2 that were in flight.
    expect(head.offset).toBe(PART);
    await tusUpload(data, { uploadUrl: `${b.url}${pathname}`, retryDelays: [200, 500, 1000, 2000] });
    expect(await objectSha256(`${env().S3_KEY_PREFIX}${id}`)).toBe(sha256(data));
    expect(await redis.hgetall(record)).toMatchObject({ status: 'completed', receivedChunks: '3', totalChunks: '3' });
  });
});

describe('S3 stops answering (the Swift proxy SIGSTOPped)', () => {
  let proxy: SwiftProxy;
  beforeAll(async () => {
    proxy = await startSwiftProxy({ dir: inject('s3').swiftDir });
  });
  afterAll(async () => {
    process.kill(proxy.pid, 'SIGCONT');
    await proxy.stop();
  });

  it('a PATCH gets 503 with Retry-After within the timeout; HEAD answers from Redis; after SIGCONT the upload resumes', async () => {
    const env = sharedEnv(storage.env(), { S3_ENDPOINT: proxy.endpoint, S3_REQUEST_TIMEOUT_MS: '1500' });
    const server = await startServerProcess(env());
    const data = randomBytes(2 * PART);
    const pathname = (await createUploadOn(server, data.length)).path;
    expect(await patchOn(server, pathname, 0, data.subarray(0, PART))).toBe(204);
    process.kill(proxy.pid, 'SIGSTOP');
    try {
      const { res, took } = await timedPatch(server, pathname, PART, data.subarray(PART));
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(res.headers.get('x-error-code')).toBe('STORAGE_UNAVAILABLE');
      expect(took).toBeLessThan(10_000); // the timeout is 1.5 s; generous for a loaded machine
      // HEAD needs no S3: it answers at once, with what S3 acknowledged.
      const headStarted = Date.now();
      expect(await offsetOn(server, pathname)).toEqual({ status: 200, offset: PART });
      expect(Date.now() - headStarted).toBeLessThan(1000);
    } finally {
      process.kill(proxy.pid, 'SIGCONT');
    }
    expect(await patchOn(server, pathname, PART, data.subarray(PART))).toBe(204);
    const id = pathname.split('/').pop() as string;
    expect(await objectSha256(`${env().S3_KEY_PREFIX}${id}`)).toBe(sha256(data));
  });
});

describe('start-up', () => {
  it('exits 2 naming the bucket and the endpoint, without a stack trace, when the bucket cannot be written', async () => {
    const env: Record<string, string> = {
      ...sharedEnv(storage.env())(),
      S3_BUCKET: `missing-${randomUUID().slice(0, 8)}`,
      PORT: '0',
      LOG_LEVEL: 'silent',
    };
    const { code, stderr } = await runUntilExit(env);
    expect(code).toBe(2);
    expect(stderr).toContain(`S3_BUCKET: cannot write to bucket "${env.S3_BUCKET}" at ${env.S3_ENDPOINT}`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
