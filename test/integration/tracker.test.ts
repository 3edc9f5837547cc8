import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { RedisClient } from '../../src/redis/client.js';
import { createRedisClient } from '../../src/redis/client.js';
import { createKeys, type Keys } from '../../src/redis/keys.js';
import { UploadReader } from '../../src/uploads/read/upload-reader.js';
import { UploadIndexes } from '../../src/uploads/state/indexes.js';
import { UploadTracker } from '../../src/uploads/state/tracker.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { expectEveryKeyToExpire } from '../helpers/redis-assert.js';
import { elapse } from '../helpers/wait.js';

const CHUNK = 1000;
const TTL_MS = 60_000;

let redis: RedisClient;
let keys: Keys;
let tracker: UploadTracker;
let reader: UploadReader;

function trackerOn(client: RedisClient) {
  return new UploadTracker(
    client,
    keys,
    { completedRetentionMs: 3_600_000, groupTtlMs: 7_200_000 },
    new UploadIndexes(client, keys, 7_200_000),
  );
}

async function newUpload(size: number | undefined, expiresInMs = TTL_MS): Promise<string> {
  const id = randomUUID();
  const now = Date.now();
  await tracker.create({
    id,
    size,
    chunkSize: CHUNK,
    metadata: { filename: 'x' },
    createdAt: now,
    expiresAt: now + expiresInMs,
  });
  return id;
}

beforeEach(async () => {
  keys = createKeys(`test-${randomUUID()}:`, 1);
  redis = createRedisClient(inject('redisUrl'), { commandTimeoutMs: 2000 });
  await redis.connect();
  tracker = trackerOn(redis);
  reader = new UploadReader(redis, keys);
});
afterEach(() => redis.disconnect());

describe('recording progress', () => {
  it('counts each chunk once, however often the same progress is recorded', async () => {
    const id = await newUpload(10_500);
    for (let i = 0; i < 3; i++) await tracker.recordProgress(id, 3500);
    const record = await reader.readRecord(id);
    expect(record).toMatchObject({ offset: 3500, receivedChunks: 3, status: 'uploading' });
    expect((await redis.smembers(keys.forUpload(id).chunksReceived)).map(Number).sort()).toEqual([0, 1, 2]);
  });

  it('never moves the offset back when an older call runs late', async () => {
    const id = await newUpload(10_500);
    await tracker.recordProgress(id, 5000);
    const late = await tracker.recordProgress(id, 2000);
    expect(late).toMatchObject({ offset: 5000, receivedChunks: 5 });
  });

  it('counts the short last chunk only when the last byte is stored, then moves to assembling', async () => {
    const id = await newUpload(2500);
    expect(await tracker.recordProgress(id, 2499)).toEqual({ offset: 2499, receivedChunks: 2, status: 'uploading' });
    expect(await tracker.recordProgress(id, 2500)).toEqual({ offset: 2500, receivedChunks: 3, status: 'assembling' });
  });

  it('counts chunks in constant commands even for a large jump (one SADD per 1000 chunks)', async () => {
    const id = await newUpload(CHUNK * 2500);
    expect(await tracker.recordProgress(id, CHUNK * 2500)).toMatchObject({ receivedChunks: 2500 });
    expect(await redis.scard(keys.forUpload(id).chunksReceived)).toBe(2500);
  });

  it('gives the set the upload hash expiry when it creates it', async () => {
    const id = await newUpload(5000);
    await tracker.recordProgress(id, 2000);
    const k = keys.forUpload(id);
    const [hashAt, setAt] = await Promise.all([redis.pexpiretime(k.upload), redis.pexpiretime(k.chunksReceived)]);
    expect(setAt).toBe(hashAt);
    expect(await expectEveryKeyToExpire(redis, `${keys.prefix}upload:`, TTL_MS)).toHaveLength(2);
    // The expiry index outlives every upload it lists.
    expect(await expectEveryKeyToExpire(redis, keys.forUpload(id).indexes.expiry, 7_200_000)).toHaveLength(1);
  });

  it('rewinds to the bytes really stored, uncounting the chunks past them', async () => {
    const id = await newUpload(5000);
    await tracker.recordProgress(id, 5000);
    expect(await tracker.rewindProgress(id, 2100)).toBe(3);
    expect(await reader.readRecord(id)).toMatchObject({ offset: 2100, receivedChunks: 2, status: 'uploading' });
    expect((await redis.smembers(keys.forUpload(id).chunksReceived)).map(Number).sort()).toEqual([0, 1]);
  });
});

describe('a missing upload is never recreated', () => {
  it('no write recreates the keys of an expired upload, and each reports it gone', async () => {
    const id = await newUpload(5000, 50);
    await elapse(120); // a fixed time: the 50 ms TTL itself must run out, nothing to poll for
    const k = keys.forUpload(id);
    expect(await redis.exists(k.upload, k.chunksReceived)).toBe(0);

    expect(await tracker.recordProgress(id, 3000)).toBeUndefined();
    expect(await tracker.rewindProgress(id, 0)).toBe(0);
    expect(await tracker.recordFailure(id, 'r1')).toBeUndefined();
    await expect(tracker.declareLength(id, 5000)).rejects.toMatchObject({ code: 'UPLOAD_NOT_FOUND' });
    expect(await tracker.complete(id, 'abc')).toBe(false);
    expect(await redis.exists(k.upload, k.chunksReceived)).toBe(0);
  });
});

describe('deferred length', () => {
  it('is declared once, never below the stored offset', async () => {
    const id = await newUpload(undefined);
    await tracker.recordProgress(id, 2500);
    expect(await reader.readRecord(id)).toMatchObject({ size: undefined, totalChunks: undefined, receivedChunks: 2 });
    await expect(tracker.declareLength(id, 2000)).rejects.toMatchObject({ status: 400 });
    expect(await tracker.declareLength(id, 4000)).toBe(4);
    await expect(tracker.declareLength(id, 5000)).rejects.toMatchObject({ status: 400 });
    expect(await reader.readRecord(id)).toMatchObject({ size: 4000, totalChunks: 4 });
  });
});

describe('failed requests', () => {
  it('counts each failed request once, even when the same call is resent', async () => {
    const id = await newUpload(5000);
    expect(await tracker.recordFailure(id, 'req-1')).toBe(1);
    expect(await tracker.recordFailure(id, 'req-1')).toBe(1);
    expect(await tracker.recordFailure(id, 'req-2')).toBe(2);
  });
});

describe('completion', () => {
  it('moves assembling → completed once, recording the digest and the retention expiry on both keys', async () => {
    const id = await newUpload(2000);
    await tracker.recordProgress(id, 2000);
    expect(await tracker.complete(id, 'f'.repeat(64))).toBe(true);
    const record = await reader.readRecord(id);
    expect(await redis.zscore(keys.forUpload(id).indexes.expiry, id)).toBe(String(record?.expiresAt));
    // A later, different completion does not move it again.
    expect(await tracker.complete(id, '0'.repeat(64), Date.now() + 1000)).toBe(false);
    expect(record).toMatchObject({ status: 'completed', sha256: 'f'.repeat(64) });
    const k = keys.forUpload(id);
    expect(await redis.pexpiretime(k.upload)).toBe(record?.expiresAt);
    expect(await redis.pexpiretime(k.chunksReceived)).toBe(record?.expiresAt);
  });
});

describe('a lost reply (ioredis resends the command after reconnecting)', () => {
  let proxy: FaultProxy;
  let viaProxy: RedisClient;
  beforeEach(async () => {
    proxy = await startFaultProxy(Number(new URL(inject('redisUrl')).port));
    viaProxy = createRedisClient(proxy.url('redis'), { commandTimeoutMs: 2000 });
    viaProxy.on('error', () => {});
    await viaProxy.connect();
  });
  afterEach(async () => {
    viaProxy.disconnect();
    await proxy.close();
  });

  it('makes a bare HINCRBY count twice (the fault is real)', async () => {
    const key = `${keys.prefix}control`;
    proxy.dropNextReply();
    await viaProxy.hincrby(key, 'receivedChunks', 1);
    expect(proxy.dropped).toBe(1);
    expect(await redis.hget(key, 'receivedChunks')).toBe('2');
  });

  it('does not double count chunks recorded by the script', async () => {
    const id = await newUpload(10_000);
    proxy.dropNextReply();
    const reply = await trackerOn(viaProxy).recordProgress(id, 4000);
    expect(proxy.dropped).toBe(1);
    expect(reply).toMatchObject({ receivedChunks: 4 });
    expect(await reader.readRecord(id)).toMatchObject({ offset: 4000, receivedChunks: 4 });
    expect(await redis.scard(keys.forUpload(id).chunksReceived)).toBe(4);
  });

  it('creates an upload once and still answers success when the reply to the create was lost', async () => {
    const id = randomUUID();
    const now = Date.now();
    proxy.dropNextReply();
    await trackerOn(viaProxy).create({
      id,
      size: 5000,
      chunkSize: CHUNK,
      metadata: undefined,
      createdAt: now,
      expiresAt: now + TTL_MS,
    });
    expect(proxy.dropped).toBe(1);
    expect(await reader.readRecord(id)).toMatchObject({ size: 5000, createdAt: now });
    // A different creation with the same ID is still refused.
    await expect(
      tracker.create({
        id,
        size: 1,
        chunkSize: CHUNK,
        metadata: undefined,
        createdAt: now + 1,
        expiresAt: now + TTL_MS,
      }),
    ).rejects.toThrow(/already exists/);
  });

  it('declares a length once and still answers success when the reply was lost', async () => {
    const id = await newUpload(undefined);
    proxy.dropNextReply();
    expect(await trackerOn(viaProxy).declareLength(id, 4500)).toBe(5);
    expect(proxy.dropped).toBe(1);
    await expect(tracker.declareLength(id, 4600)).rejects.toMatchObject({ status: 400 });
  });

  it('completes an upload once and still answers success when the reply was lost', async () => {
    const id = await newUpload(1000);
    await tracker.recordProgress(id, 1000);
    proxy.dropNextReply();
    expect(await trackerOn(viaProxy).complete(id, 'a'.repeat(64))).toBe(true);
    expect(proxy.dropped).toBe(1);
    expect(await reader.readRecord(id)).toMatchObject({ status: 'completed', sha256: 'a'.repeat(64) });
  });

  it('does not double count a failed request', async () => {
    const id = await newUpload(10_000);
    proxy.dropNextReply();
    await trackerOn(viaProxy).recordFailure(id, 'req-1');
    expect(proxy.dropped).toBe(1);
    expect(await reader.readRecord(id)).toMatchObject({ failedChunks: 1 });
  });
});
