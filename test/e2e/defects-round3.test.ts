// The defects an attack on the landed server found (issue 20, E3-E6), each from its reproduction in
// ../shared/repro/t3/. E5 on S3 is in s3-ranges.test.ts.
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { initialFields } from '../../src/uploads/model/upload-record.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createUpload, patch } from '../helpers/tus.js';

const TOKEN = 'a-dashboard-token-for-tests';
const contexts: TestContext[] = [];
afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close();
});
async function context(env: Record<string, string> = {}) {
  const ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(64 * 1024), ...env });
  contexts.push(ctx);
  return ctx;
}

/** Opens an event stream; resolves with its status once answered (the stream stays open until aborted). */
async function openStream(url: string, headers: Record<string, string>, open: AbortController[]): Promise<number> {
  const controller = new AbortController();
  open.push(controller);
  return (await fetch(url, { headers, signal: controller.signal })).status;
}

describe('E3: live-update streams behind a proxy', () => {
  it('counts a client by the address the trusted proxy reports, not by any X-Forwarded-For hop it wrote', async () => {
    const ctx = await context({ TRUST_PROXY: 'true', EVENT_STREAMS_PER_CLIENT: '2', DASHBOARD_TOKEN: TOKEN });
    const base = await ctx.listen();
    const { id } = await createUpload(request(ctx.app), { size: 10 });
    const open: AbortController[] = [];
    try {
      // One client behind the proxy, forging a new leftmost hop each time; the proxy appends the real address.
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const forged = `10.0.0.${i + 1}, 203.0.113.7`;
        statuses.push(await openStream(`${base}/api/uploads/${id}/events`, { 'X-Forwarded-For': forged }, open));
      }
      expect(statuses).toEqual([200, 200, 429, 429]);
      // Another client, as the proxy reports it, still gets its streams.
      expect(await openStream(`${base}/api/uploads/${id}/events`, { 'X-Forwarded-For': '198.51.100.9' }, open)).toBe(
        200,
      );
    } finally {
      for (const controller of open) controller.abort();
    }
  });

  it('holds at most EVENT_STREAMS_PER_INSTANCE streams, all clients together, answering 503 with Retry-After beyond', async () => {
    const ctx = await context({ TRUST_PROXY: 'true', EVENT_STREAMS_PER_INSTANCE: '3', DASHBOARD_TOKEN: TOKEN });
    const base = await ctx.listen();
    const { id } = await createUpload(request(ctx.app), { size: 10 });
    const open: AbortController[] = [];
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        statuses.push(
          await openStream(`${base}/api/uploads/${id}/events`, { 'X-Forwarded-For': `198.51.100.${i}` }, open),
        );
      }
      const controller = new AbortController();
      open.push(controller);
      const refused = await fetch(`${base}/api/uploads/${id}/events`, {
        headers: { 'X-Forwarded-For': '198.51.100.200' },
        signal: controller.signal,
      });
      expect(statuses).toEqual([200, 200, 200]);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBeTruthy();
      expect(refused.headers.get('x-error-code')).toBe('STREAMS_FULL');
    } finally {
      for (const controller of open) controller.abort();
    }
  });
});

describe('E4: the uploads list under ties', () => {
  it('lists every upload exactly once, however many share one millisecond of activity', async () => {
    const ctx = await context({ DASHBOARD_TOKEN: TOKEN });
    const at = Date.now();
    const ids = Array.from({ length: 40 }, () => randomUUID());
    for (const [i, id] of ids.entries()) {
      const fields = initialFields({
        id,
        size: 10,
        chunkSize: 65536,
        metadata: { filename: `f${i}` },
        createdAt: at,
        expiresAt: at + 3_600_000,
      });
      await ctx.redis.hset(ctx.keys.forUpload(id).upload, ...fields, 'updatedAt', String(at));
      await ctx.redis.pexpire(ctx.keys.forUpload(id).upload, 3_600_000);
      // 30 of them in the same millisecond, 10 a millisecond earlier.
      await ctx.redis.zadd(ctx.keys.forUpload(id).indexes.recent, i < 30 ? at : at - 1, id);
    }
    for (const limit of [1, 3, 7]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const res: request.Response = await request(ctx.app)
          .get(`/api/uploads?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)
          .set('Authorization', `Bearer ${TOKEN}`);
        expect(res.status).toBe(200);
        seen.push(...res.body.uploads.map((u: { id: string }) => u.id));
        cursor = res.body.next;
        if (!cursor) break;
      }
      expect(seen.length, `limit ${limit}`).toBe(ids.length);
      expect(new Set(seen), `limit ${limit}`).toEqual(new Set(ids));
    }
  });
});

describe('E5: a download asked for several ranges', () => {
  it('on disk: the whole file, 200 (the Range is ignored, as RFC 9110 allows)', async () => {
    const ctx = await context();
    const data = randomBytes(1000);
    const { path: url } = await createUpload(request(ctx.app), { size: data.length });
    await patch(request(ctx.app), url, 0, data);
    const res = await request(ctx.app).get(url).set('Range', 'bytes=0-9,0-9,0-9').buffer(true);
    expect(res.status).toBe(200);
    expect(Buffer.from(res.body).equals(data)).toBe(true);
    const one = await request(ctx.app).get(url).set('Range', 'bytes=10-19').buffer(true);
    expect(one.status).toBe(206);
    expect(Buffer.from(one.body).equals(data.subarray(10, 20))).toBe(true);
  });
});

describe('E6: malformed percent-encoding in a path', () => {
  it('answers 404 on the tus routes and 400 on the API, never 500', async () => {
    const ctx = await context();
    const tus = { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' };
    for (const method of ['get', 'head', 'patch', 'delete'] as const) {
      for (const url of ['/files/%ff', '/files/%E0%A4%A']) {
        const res = await request(ctx.app)[method](url).set(tus);
        expect(res.status, `${method} ${url}`).toBe(404);
      }
    }
    const draft = await request(ctx.app).head('/files/%ff').set('Upload-Draft-Interop-Version', '6');
    expect(draft.status).toBe(404);
    for (const url of [
      '/api/uploads/%ff/progress',
      '/api/uploads/%ff/missing',
      '/api/uploads/%ff/events',
      '/api/upload/progress/%ff',
      '/api/groups/%ff/progress',
    ]) {
      const res = await request(ctx.app).get(url);
      expect(res.status, url).toBe(400);
    }
  });
});
