// The defects an attack on the server found (issue 13, D1-D7 and what was observed beside them),
// each from its reproduction in ../shared/repro/.
import { randomBytes, randomUUID } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import request from 'supertest';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { createUpload, getBytes, head, patch, TUS } from '../helpers/tus.js';
import { waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;
const SECRET = 'a-test-secret-of-at-least-32-characters!';
const contexts: TestContext[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function context(env: Record<string, string> = {}, redisUrl?: string) {
  const ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK), ...env }, redisUrl);
  contexts.push(ctx);
  return ctx;
}

const tokenFor = (sub: string) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).sign(new TextEncoder().encode(SECRET));

/** A body sent with Transfer-Encoding: chunked (no Content-Length), `length` bytes of it. */
function chunked(base: string, method: string, path: string, headers: Record<string, string>, length: number) {
  return new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, {
      method,
      headers: {
        ...TUS,
        'Content-Type': 'application/offset+octet-stream',
        'Transfer-Encoding': 'chunked',
        ...headers,
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
    const block = Buffer.alloc(CHUNK, 7);
    let sent = 0;
    const pump = () => {
      while (sent < length) {
        const n = Math.min(block.length, length - sent);
        sent += n;
        if (!req.write(block.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('D1: a request that was not authorized changes nothing', () => {
  it('PATCHes refused with 401 and 403 leave the owner’s record as it was: no failedChunks, no updatedAt', async () => {
    const ctx = await context({ AUTH_JWT_SECRET: SECRET });
    const alice = { Authorization: `Bearer ${await tokenFor('alice')}` };
    const bob = { Authorization: `Bearer ${await tokenFor('bob')}` };
    const { path: url, id } = await createUpload(request(ctx.app), { size: 100, headers: alice });
    const before = await ctx.redis.hgetall(ctx.keys.forUpload(id).upload);
    for (let i = 0; i < 20; i++) {
      expect((await patch(request(ctx.app), url, 0, randomBytes(10), bob)).status).toBe(403);
      expect((await patch(request(ctx.app), url, 0, randomBytes(10))).status).toBe(401);
    }
    expect(await ctx.redis.hgetall(ctx.keys.forUpload(id).upload)).toEqual(before);
  });
});

describe('D4: group progress is bounded', () => {
  it('answers the largest group allowed with each part’s missing ranges only, and /healthz stays quick meanwhile', async () => {
    const ctx = await context();
    const base = await ctx.listen();
    const agent = request(ctx.app);
    // 1,000 partials of 100,000 chunks each (6.25 GiB each, no bytes sent): the most a group may hold.
    const size = String(100_000 * CHUNK);
    const metadata = `group ${Buffer.from('big').toString('base64')}`;
    for (let i = 0; i < 1000; i++) {
      const res = await fetch(`${base}/files`, {
        method: 'POST',
        headers: { ...TUS, 'Upload-Length': size, 'Upload-Concat': 'partial', 'Upload-Metadata': metadata },
      });
      expect(res.status).toBe(201);
    }
    // One more is refused before anything is created.
    const refused = await createUpload(agent, {
      size: 10,
      metadata: { group: 'big' },
      headers: { 'Upload-Concat': 'partial' },
    });
    expect(refused.res.status).toBe(400);
    expect(refused.res.text).toMatch(/1000 uploads, the most a group may have/);

    let worst = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const started = performance.now();
        await fetch(`${base}/healthz`);
        worst = Math.max(worst, performance.now() - started);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const reads = await Promise.all([1, 2, 3].map(() => fetch(`${base}/api/groups/big/progress`)));
    probing = false;
    await probe;
    for (const res of reads) {
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.length).toBeLessThan(1024 * 1024);
      const body = JSON.parse(text) as { parts: Array<Record<string, unknown>> };
      expect(body.parts).toHaveLength(1000);
      expect(body.parts[0]).toMatchObject({ receivedChunks: 0, totalChunks: 100_000, missingRanges: [[0, 99_999]] });
      expect(body.parts[0]).not.toHaveProperty('missingChunks');
    }
    console.log(`worst /healthz latency during three reads of a 1,000-part group: ${worst.toFixed(1)} ms`);
    expect(worst).toBeLessThan(1000);
  }, 60_000);
});

describe('D5: GET of a completed upload whose file was moved away', () => {
  it('answers 410, as HEAD does, and the upload is then gone', async () => {
    const ctx = await context();
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 5 });
    await patch(agent, url, 0, Buffer.from('hello'));
    await rename(path.join(ctx.dir, id), path.join(ctx.dir, `moved-${id}`));
    const res = await getBytes(agent, url);
    expect(res.status).toBe(410);
    expect(res.headers['x-error-code']).toBe('UPLOAD_GONE');
    expect((await head(agent, url)).status).toBe(404);
    expect(await ctx.reader.readRecord(id)).toBeUndefined();
  });
});

describe('D6: a chunked PATCH that sends more than the declared length', () => {
  it('is refused with 413, and the upload still completes: SHA-256, completed status, retention', async () => {
    const ctx = await context();
    const base = await ctx.listen();
    const size = 4 * CHUNK;
    const { path: url, id } = await createUpload(request(ctx.app), { size });
    const req = httpRequest(`${base}${url}`, {
      method: 'PATCH',
      headers: {
        ...TUS,
        'Content-Type': 'application/offset+octet-stream',
        'Transfer-Encoding': 'chunked',
        'Upload-Offset': '0',
      },
    });
    const status = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    req.write(Buffer.alloc(size, 7));
    // Every byte of the upload is stored before the one too many arrives (in a network chunk of its own).
    await waitFor(async () => (await ctx.reader.readRecord(id))?.offset === size, { what: 'every byte to be stored' });
    req.end(Buffer.alloc(1, 7));
    expect(await status).toBe(413);
    // @tus/server answers as soon as its size check fails; the store finishes the upload just after.
    const record = await waitFor(
      async () => {
        const r = await ctx.reader.readRecord(id);
        return r?.status === 'completed' ? r : undefined;
      },
      { what: 'the overrun upload to be completed' },
    );
    expect(record).toMatchObject({ offset: size, receivedChunks: 4, sha256: sha256(Buffer.alloc(size, 7)) });
    expect(await ctx.redis.pttl(ctx.keys.forUpload(id).upload)).toBeGreaterThan(86_400_000);
  });
});

describe('D7: a creation-with-upload whose body overruns Upload-Length', () => {
  it('is refused with 413 and leaves no upload behind', async () => {
    const ctx = await context();
    const base = await ctx.listen();
    const res = await chunked(base, 'POST', '/files', { 'Upload-Length': '3' }, 6);
    expect(res.status).toBe(413);
    expect(res.location).toBeUndefined();
    const records = (await ctx.allKeys()).filter((k) => ctx.keys.uploadIdOf(k) !== undefined);
    expect(records).toEqual([]);
    expect(await ctx.bytes.list()[Symbol.asyncIterator]().next()).toMatchObject({ done: true });
  });
});

describe('what was observed beside them', () => {
  it('accepts the bearer scheme in any case (RFC 9110: "case-insensitive")', async () => {
    const ctx = await context({ AUTH_JWT_SECRET: SECRET });
    const token = await tokenFor('alice');
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const created = await createUpload(request(ctx.app), {
        size: 1,
        headers: { Authorization: `${scheme} ${token}` },
      });
      expect(created.res.status, scheme).toBe(201);
    }
  });

  it('bounds the live-update streams one client holds open, with a clear 429', async () => {
    const ctx = await context({ EVENT_STREAMS_PER_CLIENT: '3', DASHBOARD_TOKEN: 'a-dashboard-token-for-tests' });
    const base = await ctx.listen();
    const { id } = await createUpload(request(ctx.app), { size: 10 });
    const open: AbortController[] = [];
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      open.push(controller);
      const res = await fetch(`${base}/api/uploads/${id}/events`, { signal: controller.signal });
      expect(res.status).toBe(200);
    }
    const fourth = await fetch(`${base}/api/uploads/${id}/events`);
    expect(fourth.status).toBe(429);
    expect(fourth.headers.get('x-error-code')).toBe('TOO_MANY_STREAMS');
    expect(((await fourth.json()) as { error: { message: string } }).error.message).toMatch(
      /3 live-update streams open/,
    );
    // One closed makes room again.
    open.pop()?.abort();
    const again = await waitForStatus(`${base}/api/uploads/${id}/events`, 200);
    expect(again).toBe(200);
    for (const controller of open) controller.abort();
  });

  it('/readyz reports not ready while Redis refuses writes (out of memory), though it answers PING', async () => {
    const { startRedisServer } = await import('../../src/redis/local-server.js');
    const server = await startRedisServer({
      dir: path.join(inject('tmpRoot'), `redis-${randomUUID()}`),
      extraArgs: ['--maxmemory', '64mb'],
    });
    cleanups.push(() => server.stop());
    const ctx = await context({}, server.url);
    expect((await request(ctx.app).get('/readyz')).status).toBe(200);
    const filler = new Redis(server.url);
    cleanups.push(() => filler.disconnect());
    // Well over its limit (noeviction): every write is refused, while reads and PING still answer.
    for (let i = 0; i < 32; i++) await filler.set(`filler:${i}`, 'x'.repeat(64 * 1024));
    await filler.config('SET', 'maxmemory', '1mb');
    await expect(filler.set('one-more', 'x')).rejects.toThrow(/OOM/);
    expect(await filler.ping()).toBe('PONG');
    const ready = await request(ctx.app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.redis).toMatch(/^unavailable: OOM/);
  });
});

async function waitForStatus(url: string, status: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const controller = new AbortController();
    const res = await fetch(url, { signal: controller.signal });
    controller.abort();
    if (res.status === status) return res.status;
    await new Promise((r) => setTimeout(r, 20));
  }
  return 0;
}
