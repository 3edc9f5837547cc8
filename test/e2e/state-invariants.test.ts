import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { openPatch } from '../helpers/raw-patch.js';
import { expectEveryKeyToExpire } from '../helpers/redis-assert.js';
import { createUpload, head, patch } from '../helpers/tus.js';
import { waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;
const TTL_S = 3600;

let ctx: TestContext;
let base: string;
beforeEach(async () => {
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK), UPLOAD_TTL_SECONDS: String(TTL_S) });
  base = await ctx.listen();
});
afterEach(() => ctx.close());

/** HEAD's offset, the bytes on disk, the hash and the set: all four must tell the same story. */
async function expectStateToMatchDisk(id: string, url: string) {
  const headOffset = Number((await head(request(base), url)).headers['upload-offset']);
  const onDisk = (await stat(path.join(ctx.dir, id))).size;
  const record = await ctx.reader.readRecord(id);
  const members = (await ctx.redis.smembers(ctx.keys.forUpload(id).chunksReceived)).map(Number).sort((a, b) => a - b);
  const full = Math.floor(onDisk / CHUNK);
  expect(headOffset).toBe(onDisk);
  expect(record?.offset).toBe(onDisk);
  expect(record?.receivedChunks).toBe(full);
  expect(members).toEqual(Array.from({ length: full }, (_, i) => i));
  return { onDisk, record };
}

describe('the schema', () => {
  it('has exactly the documented fields with typed values, and a TTL on every key after every kind of request', async () => {
    const agent = request(base);
    const { path: url, id } = await createUpload(agent, {
      size: 3 * CHUNK,
      metadata: { filename: 'ü.txt', note: null },
    });
    const k = ctx.keys.forUpload(id);
    const hash = await ctx.redis.hgetall(k.upload);
    expect(Object.keys(hash).sort()).toEqual(
      [
        'chunkSize',
        'createdAt',
        'expiresAt',
        'failedChunks',
        'metadata',
        'offset',
        'receivedChunks',
        'size',
        'status',
        'totalChunks',
        'updatedAt',
      ].sort(),
    );
    expect(hash).toMatchObject({
      totalChunks: '3',
      receivedChunks: '0',
      failedChunks: '0',
      status: 'uploading',
      size: String(3 * CHUNK),
      offset: '0',
      chunkSize: String(CHUNK),
    });
    expect(JSON.parse(hash.metadata as string)).toEqual({ filename: 'ü.txt', note: null });
    for (const field of ['createdAt', 'updatedAt', 'expiresAt']) expect(hash[field]).toMatch(/^\d{13}$/);
    expect(Number(hash.expiresAt) - Number(hash.createdAt)).toBe(TTL_S * 1000);
    await expectEveryKeyToExpire(ctx.redis, `${ctx.prefix}upload:`, TTL_S * 1000);

    await patch(agent, url, 0, randomBytes(CHUNK + 10));
    expect(await expectEveryKeyToExpire(ctx.redis, `${ctx.prefix}upload:`, TTL_S * 1000)).toHaveLength(2);
    await head(agent, url);
    await patch(agent, url, 5, randomBytes(10)); // 409
    await expectEveryKeyToExpire(ctx.redis, `${ctx.prefix}upload:`, TTL_S * 1000);
    expect(await ctx.redis.hget(k.upload, 'failedChunks')).toBe('1');

    const deferred = await createUpload(agent, {});
    await patch(agent, deferred.path, 0, randomBytes(100), { 'Upload-Length': '100' });
    await expectEveryKeyToExpire(ctx.redis, `${ctx.prefix}upload:`, 7 * 86400 * 1000);

    await patch(agent, url, CHUNK + 10, randomBytes(2 * CHUNK - 10));
    const completed = await ctx.redis.hgetall(k.upload);
    expect(completed).toMatchObject({ status: 'completed', receivedChunks: '3', offset: String(3 * CHUNK) });
    expect(completed.sha256).toMatch(/^[0-9a-f]{64}$/);
    // A completed upload is kept for COMPLETED_RETENTION_SECONDS (default 7 days).
    const ttl = await ctx.redis.pttl(k.upload);
    expect(ttl).toBeGreaterThan(TTL_S * 1000);
    await expectEveryKeyToExpire(ctx.redis, `${ctx.prefix}upload:`, 7 * 86400 * 1000);
    // The only other keys are the indexes, and they expire too.
    const others = (await ctx.allKeys()).filter((key) => !key.startsWith(`${ctx.prefix}upload:`));
    expect(others).toEqual(
      [
        // One Redis: one bucket, whose indexes list both uploads.
        k.indexes.expiry,
        k.indexes.recent,
        // Both uploads completed: an empty 'uploading' set is no key at all.
        k.indexes.status('completed'),
      ].sort(),
    );
    for (const key of others) expect(await ctx.redis.pttl(key), key).toBeGreaterThan(0);
  });
});

describe('status indexes', () => {
  it('list an upload of exactly one chunk, sent in one PATCH, as completed only', async () => {
    // Its last byte ends a chunk, so a progress update may record it (uploading → assembling) just before the
    // completion does: the completion must take it out of either index.
    const agent = request(base);
    const { path: url, id } = await createUpload(agent, { size: CHUNK });
    expect((await patch(agent, url, 0, randomBytes(CHUNK))).status).toBe(204);
    const listedIn = async () => {
      const statuses = ['uploading', 'assembling', 'completed', 'failed'] as const;
      const scores = await Promise.all(
        statuses.map((s) => ctx.redis.zscore(ctx.keys.forUpload(id).indexes.status(s), id)),
      );
      return statuses.filter((_, i) => scores[i] !== null);
    };
    await waitFor(async () => (await listedIn()).includes('completed'), { what: 'the completed index to list it' });
    expect(await listedIn()).toEqual(['completed']);
  });
});

describe('progress while one long PATCH streams', () => {
  it('advances before the request ends: chunk by chunk in the counts, byte by byte in the offset', async () => {
    const data = randomBytes(8 * CHUNK);
    const { path: url, id } = await createUpload(request(base), { size: data.length });
    const open = openPatch(base, url, 0, data.length);
    await open.write(data.subarray(0, 3 * CHUNK + 100));
    const during = await waitFor(
      async () => {
        const p = await ctx.reader.readProgress(id);
        return p && p.receivedChunks >= 3 ? p : undefined;
      },
      { timeoutMs: 5000, what: 'three chunks recorded' },
    );
    expect(during).toMatchObject({ status: 'uploading', receivedChunks: 3 });
    // The offset follows the bytes stored (issue 22), the 100 of the fourth chunk too once they are recorded.
    expect(during.offset).toBeGreaterThanOrEqual(3 * CHUNK);
    expect(during.offset).toBeLessThanOrEqual(3 * CHUNK + 100);
    const api = await request(base).get(`/api/uploads/${id}/progress`);
    expect(api.body).toMatchObject({ receivedChunks: 3, totalChunks: 8 });
    expect(api.body.percent).toBeGreaterThanOrEqual(37.5);
    expect(api.body.percent).toBeLessThan(37.6);

    await open.write(data.subarray(3 * CHUNK + 100));
    open.end();
    expect((await open.response).status).toBe(204);
    expect(await ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', receivedChunks: 8 });
  });
});

describe('a PATCH that ends early', () => {
  it.each([
    ['reset (RST)', (o: ReturnType<typeof openPatch>) => o.reset()],
    ['closed (FIN) before Content-Length was sent', (o: ReturnType<typeof openPatch>) => o.finish()],
  ])('%s keeps the bytes it stored, and hash, set, disk and HEAD agree', async (_name, stop) => {
    const data = randomBytes(6 * CHUNK);
    const { path: url, id } = await createUpload(request(base), { size: data.length });
    const open = openPatch(base, url, 0, data.length);
    await open.write(data.subarray(0, 2 * CHUNK + 5000));
    await waitFor(async () => ((await ctx.reader.readRecord(id))?.receivedChunks === 2 ? true : undefined));
    stop(open);
    await open.response.catch(() => {});
    const { onDisk, record } = await waitFor(
      async () => {
        const r = await ctx.reader.readRecord(id);
        return r && r.failedChunks === 1 ? expectStateToMatchDisk(id, url) : undefined;
      },
      { timeoutMs: 5000, what: 'the failed PATCH to be counted' },
    );
    // Its handler ended (no promise left hanging on the dead connection) and its lock is free.
    await waitFor(() => ctx.drain.inFlight === 0, { timeoutMs: 3000, what: 'the handler to end' });
    expect(await ctx.redis.exists(ctx.keys.lock(id))).toBe(0);
    expect(onDisk).toBeGreaterThanOrEqual(2 * CHUNK);
    expect(onDisk).toBeLessThanOrEqual(2 * CHUNK + 5000);
    expect(record?.failedChunks).toBe(1);
    expect(await readFile(path.join(ctx.dir, id))).toHaveLength(onDisk);
    expect(Buffer.compare(await readFile(path.join(ctx.dir, id)), data.subarray(0, onDisk))).toBe(0);

    // The upload resumes from there.
    const res = await patch(request(base), url, onDisk, data.subarray(onDisk));
    expect(res.status).toBe(204);
    expect(await ctx.reader.readProgress(id)).toMatchObject({
      status: 'completed',
      receivedChunks: 6,
      failedChunks: 1,
    });
  });
});
