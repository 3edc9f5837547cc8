import { randomBytes } from 'node:crypto';
import { appendFile, truncate } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createUpload, head, patch } from '../helpers/tus.js';

const CHUNK = 64 * 1024;
let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK) });
});
afterEach(() => ctx.close());

const members = async (id: string) =>
  (await ctx.redis.smembers(ctx.keys.forUpload(id).chunksReceived)).map(Number).sort((a, b) => a - b);

describe('after a crash, state is reconciled from the disk on the next HEAD', () => {
  it('records bytes that reached the disk but not Redis (server killed mid-write)', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 4 * CHUNK });
    await patch(agent, url, 0, randomBytes(CHUNK));
    await appendFile(path.join(ctx.dir, id), randomBytes(CHUNK + 10));

    expect((await head(agent, url)).headers['upload-offset']).toBe(String(2 * CHUNK + 10));
    expect(await ctx.reader.readRecord(id)).toMatchObject({ offset: 2 * CHUNK + 10, receivedChunks: 2 });
    expect(await members(id)).toEqual([0, 1]);
  });

  it('rewinds a record that claims bytes the disk lost, so the client resends them', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 4 * CHUNK });
    await patch(agent, url, 0, randomBytes(3 * CHUNK));
    await truncate(path.join(ctx.dir, id), CHUNK + 5);

    expect((await head(agent, url)).headers['upload-offset']).toBe(String(CHUNK + 5));
    expect(await ctx.reader.readRecord(id)).toMatchObject({
      offset: CHUNK + 5,
      receivedChunks: 1,
      status: 'uploading',
    });
    expect(await members(id)).toEqual([0]);
    expect((await patch(agent, url, CHUNK + 5, randomBytes(3 * CHUNK - 5))).status).toBe(204);
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed', receivedChunks: 4 });
  });

  it('finishes an upload left "assembling" by a crash during finalization', async () => {
    const agent = request(ctx.app);
    const data = randomBytes(CHUNK);
    const { path: url, id } = await createUpload(agent, { size: CHUNK });
    await patch(agent, url, 0, data);
    await ctx.redis.hset(ctx.keys.forUpload(id).upload, 'status', 'assembling');
    await ctx.redis.hdel(ctx.keys.forUpload(id).upload, 'sha256', 'completedAt');

    expect((await head(agent, url)).status).toBe(200);
    const record = await ctx.reader.readRecord(id);
    expect(record?.status).toBe('completed');
    expect(record?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('treats an upload whose record was lost as gone (410) instead of resuming at 0, and removes its bytes', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 4 * CHUNK });
    await patch(agent, url, 0, randomBytes(CHUNK));
    const k = ctx.keys.forUpload(id);
    await ctx.redis.del(k.upload, k.chunksReceived);

    expect((await head(agent, url)).status).toBe(410);
    expect((await head(agent, url)).status).toBe(404);
  });
});

describe('failedChunks', () => {
  it('counts a PATCH refused for exceeding the upload size (413), storing nothing', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 100 });
    const res = await patch(agent, url, 0, randomBytes(101));
    expect(res.status).toBe(413);
    expect(await ctx.reader.readRecord(id)).toMatchObject({ offset: 0, failedChunks: 1 });
    expect((await head(agent, url)).headers['upload-offset']).toBe('0');
  });

  it('does not count successful PATCHes', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 100 });
    await patch(agent, url, 0, randomBytes(50));
    await patch(agent, url, 50, randomBytes(50));
    expect((await ctx.reader.readRecord(id))?.failedChunks).toBe(0);
  });
});
