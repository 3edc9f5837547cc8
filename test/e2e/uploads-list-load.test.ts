import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialFields } from '../../src/uploads/model/upload-record.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

const TOKEN = 'a-dashboard-token-for-tests';
const COUNT = 100_000;
let ctx: TestContext;

/** Every command Redis has run so far (INFO commandstats). */
async function commandsRun(): Promise<number> {
  const info = await ctx.redis.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

beforeAll(async () => {
  ctx = await createTestContext({ DASHBOARD_TOKEN: TOKEN });
  // 100,000 uploads written straight into Redis with pipelines, as the tracker would leave them.
  const started = Date.now();
  const now = Date.now();
  for (let batch = 0; batch < COUNT; batch += 5000) {
    const pipeline = (ctx.redis as import('ioredis').Redis).pipeline();
    for (let i = batch; i < batch + 5000; i++) {
      const id = randomUUID();
      const at = now - i * 10;
      const fields = initialFields({
        id,
        size: 1000,
        chunkSize: 65536,
        metadata: { filename: `file-${i}.bin` },
        createdAt: at,
        expiresAt: at + 86_400_000,
        status: i % 10 === 0 ? 'uploading' : 'completed',
      });
      pipeline.hset(ctx.keys.forUpload(id).upload, ...fields, 'updatedAt', String(at));
      pipeline.pexpire(ctx.keys.forUpload(id).upload, 3_600_000);
      pipeline.zadd(ctx.keys.recentIndex, at, id);
      pipeline.zadd(ctx.keys.statusIndex(i % 10 === 0 ? 'uploading' : 'completed'), at, id);
    }
    await pipeline.exec();
  }
  console.info(`wrote ${COUNT} uploads in ${Date.now() - started} ms`);
}, 120_000);
afterAll(() => ctx.close());

describe(`the uploads list with ${COUNT} uploads in Redis`, () => {
  it("answers a page in milliseconds, newest first, reading only the index range and the page's rows", async () => {
    const agent = request(ctx.app);
    await agent.get('/api/uploads?limit=50').set('Authorization', `Bearer ${TOKEN}`); // warm up
    const before = await commandsRun();
    const started = performance.now();
    const res = await agent.get('/api/uploads?limit=50').set('Authorization', `Bearer ${TOKEN}`);
    const ms = performance.now() - started;
    const used = (await commandsRun()) - before - 1; // less the INFO that measured
    console.info(`page of 50 out of ${COUNT}: ${ms.toFixed(1)} ms, ${used} Redis commands`);
    expect(res.status).toBe(200);
    expect(res.body.uploads).toHaveLength(50);
    expect(res.body.uploads.map((u: { filename: string }) => u.filename)).toEqual(
      Array.from({ length: 50 }, (_, i) => `file-${i}.bin`),
    );
    // One range read plus one read per row: the page costs the same whatever the number of uploads.
    expect(used).toBeLessThanOrEqual(1 + 50);

    const second = await agent
      .get(`/api/uploads?limit=50&cursor=${res.body.next}`)
      .set('Authorization', `Bearer ${TOKEN}`);
    expect(second.body.uploads[0].filename).toBe('file-50.bin');
  });

  it('filters by status from its own index, at the same cost', async () => {
    const before = await commandsRun();
    const res = await request(ctx.app)
      .get('/api/uploads?status=uploading&limit=20')
      .set('Authorization', `Bearer ${TOKEN}`);
    const used = (await commandsRun()) - before - 1;
    expect(res.body.uploads.map((u: { filename: string }) => u.filename)).toEqual(
      Array.from({ length: 20 }, (_, i) => `file-${i * 10}.bin`),
    );
    expect(res.body.uploads.every((u: { status: string }) => u.status === 'uploading')).toBe(true);
    expect(used).toBeLessThanOrEqual(1 + 20);
  });
});
