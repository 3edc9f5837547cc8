import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { createUpload, head, patch, TUS } from '../helpers/tus.js';
import { waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;
let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK) });
});
afterEach(() => ctx.close());

/** A completed partial upload holding `data`. */
async function partial(data: Buffer, metadata?: Record<string, string>) {
  const agent = request(ctx.app);
  const created = await createUpload(agent, { size: data.length, metadata, headers: { 'Upload-Concat': 'partial' } });
  expect(created.res.status).toBe(201);
  expect((await patch(agent, created.path, 0, data)).status).toBe(204);
  return created;
}

const final = (urls: string[], headers: Record<string, string> = {}) =>
  request(ctx.app)
    .post('/files')
    .set(TUS)
    .set('Upload-Concat', `final;${urls.join(' ')}`)
    .set(headers);

describe('Upload-Concat: partial', () => {
  it('creates a partial upload; HEAD answers Upload-Concat: partial with its offset', async () => {
    const agent = request(ctx.app);
    const { path: url } = await createUpload(agent, { size: 10, headers: { 'Upload-Concat': 'partial' } });
    await patch(agent, url, 0, randomBytes(4));
    const res = await head(agent, url);
    expect(res.headers['upload-concat']).toBe('partial');
    expect(res.headers['upload-offset']).toBe('4');
  });
});

describe('Upload-Concat: final', () => {
  it('concatenates completed partials in order into a final upload whose size is their sum', async () => {
    const a = randomBytes(CHUNK + 11);
    const b = randomBytes(2 * CHUNK + 3);
    const pa = await partial(a);
    const pb = await partial(b);
    const res = await final([pa.path, `http://127.0.0.1${pb.path}`], { Host: '127.0.0.1' });
    expect(res.status).toBe(201);
    const url = new URL(res.headers.location as string).pathname;
    const id = url.split('/').pop() as string;

    const h = await head(request(ctx.app), url);
    expect(h.headers['upload-concat']).toBe(`final;${pa.path} http://127.0.0.1${pb.path}`);
    expect(h.headers['upload-length']).toBe(String(a.length + b.length));
    expect(h.headers['upload-offset']).toBe(String(a.length + b.length));
    const whole = Buffer.concat([a, b]);
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(whole));
    const progress = (await request(ctx.app).get(`/api/uploads/${id}/progress`)).body;
    expect(progress).toMatchObject({
      status: 'completed',
      concat: 'final',
      size: whole.length,
      sha256: sha256(whole),
      totalChunks: Math.ceil(whole.length / CHUNK),
      receivedChunks: Math.ceil(whole.length / CHUNK),
    });
    // Partials are removed after a successful assembly (REMOVE_PARTIALS_AFTER_CONCAT, on by default).
    expect(progress.parts).toEqual([
      { id: pa.id, status: 'removed' },
      { id: pb.id, status: 'removed' },
    ]);
    expect(existsSync(path.join(ctx.dir, pa.id))).toBe(false);
    expect((await head(request(ctx.app), pa.path)).status).toBe(404);
  });

  it('refuses to PATCH a final upload (403) and leaves it untouched', async () => {
    const pa = await partial(randomBytes(100));
    const res = await final([pa.path]);
    const url = new URL(res.headers.location as string).pathname;
    const patched = await patch(request(ctx.app), url, 100, randomBytes(10));
    expect(patched.status).toBe(403);
    expect((await head(request(ctx.app), url)).headers['upload-offset']).toBe('100');
  });

  it('answers HEAD on a final upload that is not complete without Upload-Offset', async () => {
    const pa = await partial(randomBytes(100));
    const url = new URL((await final([pa.path])).headers.location as string).pathname;
    const id = url.split('/').pop() as string;
    await ctx.redis.hset(ctx.keys.forUpload(id).upload, 'status', 'failed');
    const h = await head(request(ctx.app), url);
    expect(h.status).toBe(200);
    expect(h.headers['upload-offset']).toBeUndefined();
    expect(h.headers['upload-length']).toBe('100');
    expect(h.headers['upload-concat']).toBe(`final;${pa.path}`);
  });

  it('creates one final upload when the same final POST is sent twice', async () => {
    const pa = await partial(randomBytes(1000));
    const pb = await partial(randomBytes(2000));
    const first = await final([pa.path, pb.path]);
    const second = await final([pa.path, pb.path]);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(new URL(second.headers.location as string).pathname).toBe(
      new URL(first.headers.location as string).pathname,
    );
    const finals = readdirSync(ctx.dir).filter((f) => f !== pa.id && f !== pb.id);
    expect(finals).toHaveLength(1);
  });

  it('creates one final upload when the same final POST is sent twice at once', async () => {
    const parts = [await partial(randomBytes(3000)), await partial(randomBytes(3000))];
    const [first, second] = await Promise.all([final(parts.map((p) => p.path)), final(parts.map((p) => p.path))]);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(new URL(second.headers.location as string).pathname).toBe(
      new URL(first.headers.location as string).pathname,
    );
    expect(readdirSync(ctx.dir)).toHaveLength(1);
  });

  describe('refuses a final naming anything but completed partials of this server, creating nothing', () => {
    it.each([
      [
        'an incomplete partial',
        async () => (await createUpload(request(ctx.app), { size: 10, headers: { 'Upload-Concat': 'partial' } })).path,
        400,
        /is not complete/,
      ],
      ['an unknown upload', async () => `/files/${randomUUID()}`, 404, /was not found/],
      [
        'a plain (not partial) upload',
        async () => {
          const { path: url } = await createUpload(request(ctx.app), { size: 1 });
          await patch(request(ctx.app), url, 0, Buffer.from('x'));
          return url;
        },
        400,
        /is not a partial upload/,
      ],
      [
        'a foreign server',
        async () => `https://elsewhere.example/files/${randomUUID()}`,
        400,
        /is not the URL of an upload on this server/,
      ],
      ['a path traversal', async () => '/files/../../etc/passwd', 400, /is not the URL of an upload on this server/],
      [
        'an encoded traversal',
        async () => '/files/..%2F..%2Fetc%2Fpasswd',
        400,
        /is not the URL of an upload on this server/,
      ],
      ['a hash tag', async () => '/files/{x}', 400, /is not the URL of an upload on this server/],
    ])('%s', async (_name, url, status, message) => {
      const good = await partial(randomBytes(10));
      const other = await url();
      const before = (await ctx.allKeys()).length;
      const files = readdirSync(ctx.dir).length;
      const res = await final([good.path, other]);
      expect(res.status).toBe(status);
      expect(res.text).toMatch(message);
      expect(res.headers['tus-resumable']).toBe('1.0.0');
      expect((await ctx.allKeys()).length).toBe(before);
      expect(readdirSync(ctx.dir)).toHaveLength(files);
    });

    it('a final that also names an Upload-Length', async () => {
      const good = await partial(randomBytes(10));
      const res = await final([good.path], { 'Upload-Length': '10' });
      expect(res.status).toBe(400);
      expect(res.text).toMatch(/takes no Upload-Length/);
    });

    it('a final naming another final', async () => {
      const good = await partial(randomBytes(10));
      const first = new URL((await final([good.path])).headers.location as string).pathname;
      const res = await final([first]);
      expect(res.status).toBe(400);
      expect(res.text).toMatch(/is not a partial upload/);
    });
  });

  it('keeps partials when REMOVE_PARTIALS_AFTER_CONCAT=false, and they may form another final', async () => {
    const keep = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK), REMOVE_PARTIALS_AFTER_CONCAT: 'false' });
    try {
      const agent = request(keep.app);
      const make = async (data: Buffer) => {
        const p = await createUpload(agent, { size: data.length, headers: { 'Upload-Concat': 'partial' } });
        await patch(agent, p.path, 0, data);
        return p;
      };
      const a = Buffer.from('hello ');
      const b = Buffer.from('world');
      const [pa, pb] = [await make(a), await make(b)];
      const post = (urls: string[]) =>
        agent
          .post('/files')
          .set(TUS)
          .set('Upload-Concat', `final;${urls.join(' ')}`);
      const ab = new URL((await post([pa.path, pb.path])).headers.location as string).pathname;
      const ba = new URL((await post([pb.path, pa.path])).headers.location as string).pathname;
      expect(ab).not.toBe(ba);
      expect(existsSync(path.join(keep.dir, pa.id))).toBe(true);
      expect((await readFile(path.join(keep.dir, ab.split('/').pop() as string))).toString()).toBe('hello world');
      expect((await readFile(path.join(keep.dir, ba.split('/').pop() as string))).toString()).toBe('worldhello ');
    } finally {
      await keep.close();
    }
  });
});

describe('concatenation, interrupted or in progress', () => {
  it('makes a new final when a retry finds the earlier one left assembling by a crash, and marks that one failed', async () => {
    const keep = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK), REMOVE_PARTIALS_AFTER_CONCAT: 'false' });
    try {
      const agent = request(keep.app);
      const p = await createUpload(agent, { size: 5, headers: { 'Upload-Concat': 'partial' } });
      await patch(agent, p.path, 0, Buffer.from('hello'));
      const post = () => agent.post('/files').set(TUS).set('Upload-Concat', `final;${p.path}`);
      const first = new URL((await post()).headers.location as string).pathname;
      const firstId = first.split('/').pop() as string;
      // As a kill -9 in the middle of the copy leaves it (its assembly lock expired with the process).
      await keep.redis.hset(keep.keys.forUpload(firstId).upload, 'status', 'assembling');
      const retry = await post();
      expect(retry.status).toBe(201);
      const second = new URL(retry.headers.location as string).pathname;
      expect(second).not.toBe(first);
      expect((await keep.reader.readRecord(firstId))?.status).toBe('failed');
      expect((await keep.reader.readRecord(second.split('/').pop() as string))?.status).toBe('completed');
      // And that one is what a further retry gets.
      expect(new URL((await post()).headers.location as string).pathname).toBe(second);
    } finally {
      await keep.close();
    }
  });

  it('answers HEAD on a final upload while it is being assembled: 200, its length, no Upload-Offset', async () => {
    const base = await ctx.listen();
    const agent = request(base);
    const group = randomUUID();
    const part = Buffer.alloc(48 * 1024 * 1024, 7);
    const urls: string[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await createUpload(agent, {
        size: part.length,
        metadata: { group },
        headers: { 'Upload-Concat': 'partial' },
      });
      await patch(agent, p.path, 0, part);
      urls.push(p.path);
    }
    const posting = agent
      .post('/files')
      .set(TUS)
      .set('Upload-Concat', `final;${urls.join(' ')}`)
      .then((r) => r);
    let seen: { headers: Record<string, string> } | undefined;
    const headWhileAssembling = async () => {
      const progress = (await agent.get(`/api/groups/${group}/progress`)).body as {
        final: { id: string; status: string } | null;
      };
      if (progress.final?.status === 'assembling') {
        const h = await head(agent, `/files/${progress.final.id}`);
        if (h.headers['upload-concat']) seen = h as unknown as { headers: Record<string, string> };
      }
      return seen;
    };
    await waitFor(headWhileAssembling, { timeoutMs: 20_000, intervalMs: 5, what: 'a HEAD while it was assembling' });
    expect((await posting).status).toBe(201);
    expect(seen, 'a HEAD while the final was assembling').toBeDefined();
    expect(seen?.headers['upload-offset']).toBeUndefined();
    expect(seen?.headers['upload-length']).toBe(String(4 * part.length));
    expect(seen?.headers['upload-concat']).toBe(`final;${urls.join(' ')}`);
  }, 60_000);

  it('accepts its own partial URLs whatever the case of the host or an explicit default port', async () => {
    const p = await partial(randomBytes(10));
    const res = await final([`http://LocalHost:80${p.path}`], { Host: 'localhost' });
    expect(res.status).toBe(201);
  });
});
