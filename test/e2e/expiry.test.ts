import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createUpload, head, patch } from '../helpers/tus.js';
import { elapse, waitFor } from '../helpers/wait.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ UPLOAD_TTL_SECONDS: '1', COMPLETED_RETENTION_SECONDS: '3600' });
});
afterEach(() => ctx.close());

/** A fixed time: the 1 s upload TTL or retention (the least either setting takes) must run out. */
const pastExpiry = () => elapse(1100);

describe('expiration', () => {
  it('answers Upload-Expires at creation, then 410 Gone after it, and the bytes go with the keys', async () => {
    const agent = request(ctx.app);
    const { res, path: url, id } = await createUpload(agent, { size: 100 });
    const expires = Date.parse(res.headers['upload-expires'] as string);
    expect(expires).toBeGreaterThan(Date.now() - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 1000);
    await patch(agent, url, 0, randomBytes(10));
    await pastExpiry();

    expect((await head(agent, url)).status).toBe(410);
    expect(existsSync(path.join(ctx.dir, id))).toBe(false);
    expect((await ctx.allKeys()).filter((k) => k.includes(id))).toEqual([]);
    // Once gone, it stays gone, and nothing brings a key back.
    expect((await patch(agent, url, 10, randomBytes(10))).status).toBe(404);
    expect((await ctx.allKeys()).filter((k) => k.includes(id))).toEqual([]);
  });

  it('sweeps an expired upload nobody touches again: keys and bytes, found through the index', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 100 });
    await patch(agent, url, 0, randomBytes(50));
    await pastExpiry();
    expect(existsSync(path.join(ctx.dir, id))).toBe(true);
    expect(await ctx.tusStore.deleteExpired()).toBe(1);
    expect(existsSync(path.join(ctx.dir, id))).toBe(false);
    // Its index entry went too (an empty sorted set is no key at all); what is left
    // is the bookkeeping of the orphan pass that ran with this sweep.
    expect(await ctx.allKeys()).toEqual([ctx.keys.orphanScanCursor, ctx.keys.orphanPassMarker].sort());
  });

  it('keeps a completed upload (keys, bytes, HEAD and GET) past the unfinished-upload expiry', async () => {
    const agent = request(ctx.app);
    const done = await createUpload(agent, { size: 10 });
    await patch(agent, done.path, 0, randomBytes(10));
    const unfinished = await createUpload(agent, { size: 10 });
    await pastExpiry();

    expect(await ctx.tusStore.deleteExpired()).toBe(1);
    expect(existsSync(path.join(ctx.dir, unfinished.id))).toBe(false);
    expect(existsSync(path.join(ctx.dir, done.id))).toBe(true);
    expect((await head(agent, done.path)).status).toBe(200);
    expect((await agent.get(done.path)).status).toBe(200);
    expect((await ctx.reader.readProgress(done.id))?.status).toBe('completed');
    expect(await ctx.redis.zscore(ctx.keys.forUpload(done.id).indexes.expiry, done.id)).not.toBeNull();
    expect(await ctx.redis.zscore(ctx.keys.forUpload(unfinished.id).indexes.expiry, unfinished.id)).toBeNull();
  });

  it('removes a completed upload with its bytes once its retention ends', async () => {
    const short = await createTestContext({ UPLOAD_TTL_SECONDS: '3600', COMPLETED_RETENTION_SECONDS: '1' });
    try {
      const agent = request(short.app);
      const { path: url, id } = await createUpload(agent, { size: 10 });
      await patch(agent, url, 0, randomBytes(10));
      await pastExpiry();
      await waitFor(async () => (await short.tusStore.deleteExpired()) === 1, { timeoutMs: 3000 });
      expect(existsSync(path.join(short.dir, id))).toBe(false);
      expect((await short.allKeys()).filter((k) => k.includes(id))).toEqual([]);
    } finally {
      await short.close();
    }
  });
});
