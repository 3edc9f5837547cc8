import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRedisServer } from '../../src/redis/local-server.js';
import { initialFields } from '../../src/uploads/model/upload-record.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

const TOKEN = 'a-dashboard-token-for-tests';
/** The uploads in Redis at the first measure, and at the second: a page must cost the same at both. */
const FEW = 1_000;
const MANY = 20_000;
let ctx: TestContext;
let redisServer: Awaited<ReturnType<typeof startRedisServer>>;
let seeded = 0;

/** Every command Redis has run so far (INFO commandstats): this test's own Redis, so only its own commands. */
async function commandsRun(): Promise<number> {
  const info = await ctx.redis.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** Uploads written straight into Redis with pipelines, as the tracker would leave them, up to `count`, older than those before. */
async function seedUpTo(count: number): Promise<void> {
  const now = Date.now();
  for (let batch = seeded; batch < count; batch += 5000) {
    const pipeline = (ctx.redis as import('ioredis').Redis).pipeline();
    for (let i = batch; i < Math.min(batch + 5000, count); i++) {
      const id = randomUUID();
      const at = now - i * 10;
      const status = i % 10 === 0 ? 'uploading' : 'completed';
      const fields = initialFields({
        id,
        size: 1000,
        chunkSize: 65536,
        metadata: { filename: `file-${i}.bin` },
        createdAt: at,
        expiresAt: at + 86_400_000,
        status,
      });
      pipeline.hset(ctx.keys.forUpload(id).upload, ...fields, 'updatedAt', String(at));
      pipeline.pexpire(ctx.keys.forUpload(id).upload, 3_600_000);
      pipeline.zadd(ctx.keys.forUpload(id).indexes.recent, at, id);
      pipeline.zadd(ctx.keys.forUpload(id).indexes.status(status), at, id);
    }
    await pipeline.exec();
  }
  seeded = count;
}

/** A page of the uploads list, and how many Redis commands answering it took. */
async function page(
  query: string,
): Promise<{ body: { uploads: Array<Record<string, string>>; next: string }; used: number }> {
  const agent = request(ctx.app);
  await agent.get(`/api/uploads?${query}`).set('Authorization', `Bearer ${TOKEN}`); // warm up
  const before = await commandsRun();
  const res = await agent.get(`/api/uploads?${query}`).set('Authorization', `Bearer ${TOKEN}`);
  const used = (await commandsRun()) - before - 1; // less the INFO that measured
  expect(res.status).toBe(200);
  return { body: res.body, used };
}

beforeAll(async () => {
  redisServer = await startRedisServer({
    dir: mkdtempSync(path.join(inject('tmpRoot'), 'list-load-')),
    appendOnly: false,
  });
  ctx = await createTestContext({ DASHBOARD_TOKEN: TOKEN }, redisServer.url);
  await seedUpTo(FEW);
}, 120_000);
afterAll(async () => {
  await ctx.close();
  await redisServer.stop();
});

describe(`the uploads list, with ${FEW} then ${MANY} uploads in Redis`, () => {
  it("answers a page newest first, reading only the index range and the page's rows, whatever the count", async () => {
    const few = await page('limit=50');
    await seedUpTo(MANY);
    const many = await page('limit=50');
    console.info(`page of 50: ${few.used} Redis commands with ${FEW} uploads, ${many.used} with ${MANY}`);
    // One range read plus one read per row: the page costs the same whatever the number of uploads.
    expect(many.used).toBeLessThanOrEqual(1 + 50);
    expect(many.used).toBe(few.used);
    expect(many.body.uploads).toHaveLength(50);
    expect(many.body.uploads.map((u) => u.filename)).toEqual(Array.from({ length: 50 }, (_, i) => `file-${i}.bin`));
    const second = await request(ctx.app)
      .get(`/api/uploads?limit=50&cursor=${many.body.next}`)
      .set('Authorization', `Bearer ${TOKEN}`);
    expect(second.body.uploads[0].filename).toBe('file-50.bin');
  });

  it('filters by status from its own index, at the same cost', async () => {
    const { body, used } = await page('status=uploading&limit=20');
    expect(body.uploads.map((u) => u.filename)).toEqual(Array.from({ length: 20 }, (_, i) => `file-${i * 10}.bin`));
    expect(body.uploads.every((u) => u.status === 'uploading')).toBe(true);
    expect(used).toBeLessThanOrEqual(1 + 20);
  });
});
