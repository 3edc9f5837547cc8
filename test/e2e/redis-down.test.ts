import { readdirSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { type RedisServerProcess, startRedisServer } from '../../src/redis/local-server.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createUpload, head } from '../helpers/tus.js';

let redis: RedisServerProcess;
let ctx: TestContext;
beforeEach(async () => {
  redis = await startRedisServer({ dir: path.join(inject('tmpRoot'), `redis-${Date.now()}`) });
  ctx = await createTestContext({ REDIS_COMMAND_TIMEOUT_MS: '500' }, redis.url);
});
afterEach(async () => {
  await ctx.close();
  await redis.stop();
});

describe('with Redis down', () => {
  it('answers 503 with Retry-After, fast, and creates nothing', async () => {
    const agent = request(ctx.app);
    const { path: url } = await createUpload(agent, { size: 10 });
    await redis.stop();

    const started = Date.now();
    const { res } = await createUpload(agent, { size: 10 });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.text).toMatch(/temporarily unavailable/);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(readdirSync(ctx.dir)).toHaveLength(1);

    expect((await head(agent, url)).status).toBe(503);
    const api = await agent.get(`/api/uploads/${url.split('/').pop()}/progress`);
    expect(api.status).toBe(503);
    expect(api.headers['retry-after']).toBe('1');
    expect(api.body.error.code).toBe('STATE_STORE_UNAVAILABLE');
  });
});
