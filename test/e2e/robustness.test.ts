import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import request from 'supertest';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startRedisServer } from '../../src/redis/local-server.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { openPatch } from '../helpers/raw-patch.js';
import { killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';
import { createUpload, head, patch, TUS } from '../helpers/tus.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await killAllServerProcesses();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
async function context(env: Record<string, string> = {}, redisUrl?: string): Promise<TestContext> {
  const ctx = await createTestContext(env, redisUrl);
  cleanups.push(() => ctx.close());
  return ctx;
}

describe('health', () => {
  it('/healthz says the process is up; /readyz checks Redis and the upload directory', async () => {
    const ctx = await context();
    expect((await request(ctx.app).get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(ctx.app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', shuttingDown: false, redis: 'ok', uploadDir: 'ok' });
  });

  it('makes the upload directory again when it was removed under a running server (as @tus/file-store does)', async () => {
    const ctx = await context();
    await rm(ctx.dir, { recursive: true, force: true });
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 10 });
    expect((await patch(agent, url, 0, Buffer.from('0123456789'))).status).toBe(204);
    expect((await ctx.reader.readRecord(id))?.status).toBe('completed');
  });

  it('/readyz answers 503 when Redis is down, and while shutting down', async () => {
    const redis = await startRedisServer({ dir: path.join(inject('tmpRoot'), `redis-${randomUUID()}`) });
    const ctx = await context({ REDIS_COMMAND_TIMEOUT_MS: '300' }, redis.url);
    await redis.stop();
    const down = await request(ctx.app).get('/readyz');
    expect(down.status).toBe(503);
    expect(down.body.redis).toMatch(/^unavailable/);
    expect((await request(ctx.app).get('/healthz')).status).toBe(200);

    const other = await context();
    void other.drain.drain(10);
    const draining = await request(other.app).get('/readyz');
    expect(draining.status).toBe(503);
    expect(draining.body.shuttingDown).toBe(true);
    expect((await request(other.app).options('/files')).status).toBe(503);
  });
});

describe('odd requests', () => {
  it('survives an absolute-form request target with an invalid port', async () => {
    const ctx = await context();
    const base = await ctx.listen();
    const { path: url } = await createUpload(request(base), { size: 10 });
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    const reply = new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    socket.end(
      `PATCH http://a:99999${url} HTTP/1.1\r\nHost: a\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`,
    );
    await reply;
    // Still serving.
    expect((await head(request(base), url)).status).toBe(200);
  });

  it('refuses an upload with more chunks than the grid allows (413) before storing anything, and /missing stays small', async () => {
    const ctx = await context();
    const agent = request(ctx.app);
    const { res } = await createUpload(agent, { size: 10 ** 13 });
    expect(res.status).toBe(413);
    const small = await createUpload(agent, { size: 10 ** 6, metadata: { chunkSize: '65536' } });
    expect(small.res.status).toBe(201);
    const tooMany = await createUpload(agent, { size: 65536 * 100_001, metadata: { chunkSize: '65536' } });
    expect(tooMany.res.status).toBe(413);
    const options = await agent.options('/files');
    expect(options.headers['tus-max-size']).toBe(String(5 * 1024 * 1024 * 100_000));
  });

  it('counts a POST whose body (creation-with-upload) was cut off', async () => {
    const ctx = await context();
    const base = await ctx.listen();
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      'POST /files HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 300000\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 300000\r\n\r\n',
    );
    socket.write(randomBytes(100_000));
    const id = await waitFor(async () => {
      return (await ctx.allKeys()).flatMap((k) => ctx.keys.uploadIdOf(k) ?? [])[0];
    });
    await waitFor(async () => (((await ctx.bytes.bytesStored(id)) ?? 0) > 0 ? true : undefined));
    socket.resetAndDestroy();
    const record = await waitFor(async () => {
      const r = await ctx.reader.readRecord(id);
      return r?.failedChunks === 1 ? r : undefined;
    });
    expect(record.offset).toBeGreaterThan(0);
    expect(Number((await head(request(base), `/files/${id}`)).headers['upload-offset'])).toBe(record.offset);
  });

  it('a DELETE while a creation-with-upload body streams ends that POST: nothing of the upload is left', async () => {
    const ctx = await context();
    const base = await ctx.listen();
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString('latin1');
    });
    const size = 400_000;
    socket.write(
      `POST /files HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Length: ${size}\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: ${size}\r\n\r\n`,
    );
    socket.write(randomBytes(100_000));
    // The upload is named before its 201 (the created event, webhooks, the uploads list): a client may delete it.
    const id = await waitFor(async () => {
      return (await ctx.allKeys()).flatMap((k) => ctx.keys.uploadIdOf(k) ?? [])[0];
    });
    await waitFor(async () => (((await ctx.bytes.bytesStored(id)) ?? 0) > 0 ? true : undefined));
    expect((await request(base).delete(`/files/${id}`).set(TUS)).status).toBe(204);
    socket.write(randomBytes(size - 100_000));
    await waitFor(async () => (answer.includes('\r\n\r\n') ? true : undefined), { what: 'the POST to be answered' });
    expect(answer.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 423\b/);
    socket.destroy();
    expect(await ctx.bytes.bytesStored(id)).toBeUndefined();
    const left = [];
    for (const key of await ctx.allKeys()) {
      if (key.includes(id) || ((await ctx.redis.type(key)) === 'zset' && (await ctx.redis.zscore(key, id)) !== null)) {
        left.push(key);
      }
    }
    expect(left).toEqual([]);
  });

  it('does not forget bytes it could not delete: DELETE fails and the keys stay', async () => {
    const ctx = await context();
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 10 });
    const file = path.join(ctx.dir, id);
    await rm(file);
    mkdirSync(file);
    writeFileSync(path.join(file, 'x'), 'x');
    const res = await agent.delete(url).set(TUS);
    expect(res.status).toBe(500);
    expect(res.text).toBe('Internal server error\n');
    expect(await ctx.reader.readRecord(id)).toBeDefined();
  });
});

describe('Redis memory pressure', () => {
  it('answers 503 when Redis is out of memory (noeviction), advances nothing, and evicts no upload', async () => {
    const redis = await startRedisServer({
      dir: path.join(inject('tmpRoot'), `redis-${randomUUID()}`),
      extraArgs: ['--maxmemory', '4mb'],
    });
    cleanups.push(() => redis.stop());
    const ctx = await context({ CHUNK_SIZE_BYTES: '65536' }, redis.url);
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 10 * 65536 });
    expect((await patch(agent, url, 0, randomBytes(65536))).status).toBe(204);

    const filler = new Redis(redis.url);
    cleanups.push(() => filler.disconnect());
    // Fill with ever smaller values until even a tiny write is refused.
    let n = 0;
    for (const size of [64 * 1024, 4096, 256, 16, 1]) {
      while (
        await filler.set(`filler:${n++}`, 'x'.repeat(size)).then(
          () => true,
          () => false,
        )
      );
    }
    // And a margin below what is used: keys that expire meanwhile (this instance's liveness key, the readiness
    // probe's) must not make room for a write on a busy machine, where the next steps take a while.
    const used = Number(/^used_memory:(\d+)/m.exec(await filler.info('memory'))?.[1]);
    await filler.config('SET', 'maxmemory', String(used - 256 * 1024));
    const res = await patch(agent, url, 65536, randomBytes(65536));
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    const created = await createUpload(agent, { size: 10 });
    expect(created.res.status).toBe(503);
    // Nothing was evicted: the upload's record is intact.
    expect(await ctx.reader.readRecord(id)).toMatchObject({ receivedChunks: 1, offset: 65536 });
    // Memory again: HEAD reconciles with what reached the disk, each chunk counted once.
    await filler.del(...Array.from({ length: n }, (_, i) => `filler:${i}`));
    const offset = Number((await head(agent, url)).headers['upload-offset']);
    const onDisk = (await stat(path.join(ctx.dir, id))).size;
    expect(offset).toBe(onDisk);
    expect(await ctx.reader.readRecord(id)).toMatchObject({
      offset: onDisk,
      receivedChunks: Math.floor(onDisk / 65536),
    });
  });

  it('warns loudly at start when Redis may evict upload state', async () => {
    const redis = await startRedisServer({
      dir: path.join(inject('tmpRoot'), `redis-${randomUUID()}`),
      extraArgs: ['--maxmemory-policy', 'allkeys-lru'],
    });
    cleanups.push(() => redis.stop());
    const server = await startServerProcess({
      REDIS_URL: redis.url,
      UPLOAD_DIR: path.join(inject('tmpRoot'), `u-${randomUUID()}`),
    });
    expect(server.output()).toMatch(/maxmemory-policy is \\"allkeys-lru\\".*EVICT LIVE UPLOAD STATE/);
  });
});

describe('the lock', () => {
  it('is free again after a client resets mid-body: another request gets it at once', async () => {
    const ctx = await context();
    const base = await ctx.listen();
    const { path: url, id } = await createUpload(request(base), { size: 300_000 });
    const open = openPatch(base, url, 0, 300_000);
    await open.write(randomBytes(50_000));
    await waitFor(async () => ((await ctx.redis.exists(ctx.keys.lock(id))) === 1 ? true : undefined));
    open.reset();
    await waitFor(async () => (await ctx.redis.exists(ctx.keys.lock(id))) === 0, { timeoutMs: 2000 });
    const started = Date.now();
    expect((await head(request(base), url)).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(500);
  });
});
