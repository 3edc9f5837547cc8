import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createUpload, patch } from '../helpers/tus.js';

const CHUNK = 64 * 1024;
let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK) });
});
afterEach(() => ctx.close());

describe('GET /api/uploads/:id/progress', () => {
  it('announces the chunk grid a new upload may have (GET /api/limits), without a token', async () => {
    const res = await request(ctx.app).get('/api/limits');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      chunkSizeBytes: CHUNK,
      minChunkBytes: 64 * 1024,
      maxChunkBytes: 1024 * 1024 * 1024,
      maxChunks: expect.any(Number),
      maxUploadBytes: expect.any(Number),
    });
    // What it announces is what a creation takes: its minimum accepted, one byte less refused with the bounds.
    const meta = (n: number) => `chunkSize ${Buffer.from(String(n)).toString('base64')}`;
    const post = (n: number) =>
      request(ctx.app)
        .post('/files')
        .set({ 'Tus-Resumable': '1.0.0', 'Upload-Length': '10', 'Upload-Metadata': meta(n) });
    expect((await post(res.body.minChunkBytes)).status).toBe(201);
    const below = await post(res.body.minChunkBytes - 1);
    expect(below.status).toBe(400);
    expect(below.headers['x-error-code']).toBe('INVALID_CHUNK_SIZE');
  });

  it('answers numbers as numbers, receivedChunks as a count, with size, offset, percent and times', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 5 * CHUNK, metadata: { filename: 'r.csv' } });
    await patch(agent, url, 0, randomBytes(2 * CHUNK + 1));
    const res = await agent.get(`/api/uploads/${id}/progress`);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({
      id,
      status: 'uploading',
      size: 5 * CHUNK,
      offset: 2 * CHUNK + 1,
      percent: 40,
      chunkSize: CHUNK,
      totalChunks: 5,
      receivedChunks: 2,
      failedChunks: 0,
      metadata: { filename: 'r.csv' },
    });
    for (const field of ['createdAt', 'updatedAt', 'expiresAt']) {
      expect(new Date(res.body[field]).toISOString()).toBe(res.body[field]);
    }
    // The cheat sheet's frontend divides these two: it must get a number now.
    expect((res.body.receivedChunks / res.body.totalChunks) * 100).toBe(40);
  });

  it('answers the same at the cheat sheet path, with or without the upload: prefix', async () => {
    const agent = request(ctx.app);
    const { id } = await createUpload(agent, { size: 10 });
    const direct = (await agent.get(`/api/uploads/${id}/progress`)).body;
    expect((await agent.get(`/api/upload/progress/${id}`)).body).toEqual(direct);
    expect((await agent.get(`/api/upload/progress/upload:${id}`)).body).toEqual(direct);
  });
});

describe('missing chunks', () => {
  it('lists the chunks not yet received, as indexes and as ranges', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 5 * CHUNK + 7 });
    await patch(agent, url, 0, randomBytes(2 * CHUNK + 100));
    const res = await agent.get(`/api/uploads/${id}/missing`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id,
      status: 'uploading',
      offset: 2 * CHUNK + 100,
      chunkSize: CHUNK,
      totalChunks: 6,
      receivedChunks: 2,
      missingChunks: [2, 3, 4, 5],
      missingRanges: [[2, 5]],
    });
  });

  it('answers POST /api/upload/retry (the cheat sheet) with the same, given {"uploadId": "upload:<id>"}', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 3 * CHUNK });
    await patch(agent, url, 0, randomBytes(CHUNK));
    const res = await agent.post('/api/upload/retry').send({ uploadId: `upload:${id}` });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, missingChunks: [1, 2], missingRanges: [[1, 2]] });
  });

  it('says null, not a guess, while the length is deferred', async () => {
    const agent = request(ctx.app);
    const { id } = await createUpload(agent, {});
    expect((await agent.get(`/api/uploads/${id}/missing`)).body).toMatchObject({
      totalChunks: null,
      missingChunks: null,
      missingRanges: null,
    });
  });
});

describe('bad and unknown IDs on the API', () => {
  it.each([
    'not-a-uuid',
    '..%2F..%2Fetc%2Fpasswd',
    '%7Bx%7D',
    randomUUID().toUpperCase(),
    `${randomUUID()}x`,
    'a'.repeat(10_000),
  ])('answers 400 with a JSON error for %s', async (raw) => {
    for (const url of [`/api/uploads/${raw}/progress`, `/api/uploads/${raw}/missing`, `/api/upload/progress/${raw}`]) {
      const res = await request(ctx.app).get(url);
      expect(res.status, url).toBe(400);
      expect(res.body.error.code).toBe('INVALID_UPLOAD_ID');
      expect(res.body.error.message).toMatch(/expected a UUID/);
      expect(res.text).not.toMatch(/at .*\.ts|node_modules/);
    }
    expect(await ctx.allKeys()).toEqual([]);
  });

  it('answers 404 with a JSON error for a well-formed but unknown ID', async () => {
    const id = randomUUID();
    for (const url of [`/api/uploads/${id}/progress`, `/api/uploads/${id}/missing`, `/api/upload/progress/${id}`]) {
      const res = await request(ctx.app).get(url);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        error: { code: 'UPLOAD_NOT_FOUND', message: expect.any(String), requestId: res.headers['x-request-id'] },
      });
    }
    expect((await request(ctx.app).post('/api/upload/retry').send({ uploadId: id })).status).toBe(404);
  });

  it('refuses a retry body that is not JSON, or has no uploadId, with 400', async () => {
    const bad = await request(ctx.app).post('/api/upload/retry').set('Content-Type', 'application/json').send('{oops');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_REQUEST');
    const missing = await request(ctx.app).post('/api/upload/retry').send({});
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('INVALID_UPLOAD_ID');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await request(ctx.app).get('/api/nothing');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});
