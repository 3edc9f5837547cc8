import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { draftRequest, interruptedCreation } from '../helpers/draft.js';
import { openPatch } from '../helpers/raw-patch.js';
import { killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';
import { keysOfUpload } from '../helpers/upload-keys.js';
import { waitFor } from '../helpers/wait.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

const CHUNK = 64 * 1024;
const V6 = { 'Upload-Draft-Interop-Version': '6' };
const append = (offset: number, complete: boolean) => ({
  ...V6,
  'Upload-Offset': String(offset),
  'Upload-Complete': complete ? '?1' : '?0',
  'Content-Type': 'application/partial-upload',
});
const pathOf = (location: unknown) => new URL(String(location), 'http://x').pathname;

const contexts: TestContext[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await killAllServerProcesses();
  for (const ctx of contexts.splice(0)) await ctx.close();
  for (const close of closers.splice(0)) await close();
});
async function context(env: Record<string, string> = {}) {
  const ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK), ...env });
  contexts.push(ctx);
  return { ctx, base: await ctx.listen() };
}

/** Two server processes sharing Redis and the upload directory, and a Redis client to look. */
async function twoServers() {
  const redis = new Redis(inject('redisUrl'));
  closers.push(async () => redis.disconnect());
  const env = {
    REDIS_URL: inject('redisUrl'),
    UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'draft-shared-')),
    REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
    CHUNK_SIZE_BYTES: String(CHUNK),
  };
  const [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  return { redis, env, a, b };
}

/** Draft uploads are uploads like any other: the same store, lifecycle, owners, locks and events as tus ones. */
describe('IETF draft uploads among the others', () => {
  it('a new request ends the transfer in flight at once (the draft: "The server MAY terminate any ongoing [...] upload append")', async () => {
    const { ctx, base } = await context();
    const data = randomBytes(8 * CHUNK);
    const created = await draftRequest(base, 'POST', '/files', {
      ...V6,
      'Upload-Complete': '?0',
      'Upload-Length': String(data.length),
    });
    const url = pathOf(created.headers.location);
    const id = url.split('/').pop() as string;
    const inFlight = openPatch(base, url, 0, data.length, append(0, true));
    await inFlight.write(data.subarray(0, 2 * CHUNK + 7));
    await waitFor(async () => ((await ctx.reader.readProgress(id))?.offset ?? 0) > 0, {
      what: 'the append to store some bytes',
    });

    const started = Date.now();
    const head = await draftRequest(base, 'HEAD', url, V6);
    const tookMs = Date.now() - started;
    expect(head.status).toBe(204);
    // Not behind the append (which would wait for its body, or for the lock's acquire timeout).
    expect(tookMs).toBeLessThan(2000);
    const offset = Number(head.headers['upload-offset']);
    expect(offset).toBe(2 * CHUNK + 7);
    // The append that was ended gets no answer: its connection is closed.
    await expect(inFlight.response).rejects.toThrow();
    expect((await ctx.reader.readProgress(id))?.failedChunks).toBe(1);

    const rest = await draftRequest(base, 'PATCH', url, append(offset, true), data.subarray(offset));
    expect(rest.status).toBe(201);
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
  });

  it('across two server processes: a HEAD on one ends an append on the other, and the upload completes there', async () => {
    const { redis, env, a, b } = await twoServers();
    const data = randomBytes(6 * CHUNK);
    const created = await draftRequest(a.url, 'POST', '/files', { ...V6, 'Upload-Complete': '?0' });
    const url = pathOf(created.headers.location);
    const id = url.split('/').pop() as string;
    const key = keysOfUpload(env.REDIS_KEY_PREFIX, id).upload;
    const inFlight = openPatch(a.url, url, 0, data.length, append(0, true));
    await inFlight.write(data.subarray(0, 3 * CHUNK));
    await waitFor(async () => Number(await redis.hget(key, 'offset')) > 0, { what: "A's append to store some bytes" });

    const head = await draftRequest(b.url, 'HEAD', url, V6);
    expect(head.status).toBe(204);
    const offset = Number(head.headers['upload-offset']);
    expect(offset).toBe(3 * CHUNK);
    await expect(inFlight.response).rejects.toThrow();
    const rest = await draftRequest(b.url, 'PATCH', url, append(offset, true), data.subarray(offset));
    expect(rest.status).toBe(201);
    expect(sha256(await readFile(path.join(env.UPLOAD_DIR, id)))).toBe(sha256(data));
    expect(await redis.hgetall(key)).toMatchObject({ status: 'completed', totalChunks: '6', receivedChunks: '6' });
  });

  it('interop 10 across two server processes: cut on one, its offset retrieved by GET and HEAD on the other, completed there', async () => {
    const { redis, env, a, b } = await twoServers();
    const V10 = { 'Upload-Draft-Interop-Version': '10' };
    const data = randomBytes(5 * CHUNK + 3);
    const interim = await interruptedCreation(
      a.url,
      '/files',
      { ...V10, 'Upload-Complete': '?1' },
      data.subarray(0, 2 * CHUNK),
      data.length,
      (id) =>
        waitFor(
          async () => Number(await redis.hget(keysOfUpload(env.REDIS_KEY_PREFIX, id).upload, 'offset')) >= CHUNK,
          {
            what: "A's creation to store a chunk",
          },
        ),
    );
    const url = pathOf(interim.headers.location);
    const id = url.split('/').pop() as string;
    const byGet = await draftRequest(b.url, 'GET', url, V10);
    const byHead = await draftRequest(b.url, 'HEAD', url, V10);
    expect(byGet.status).toBe(204);
    expect(byHead.headers['upload-offset']).toBe(byGet.headers['upload-offset']);
    const offset = Number(byHead.headers['upload-offset']);
    expect(offset).toBeGreaterThan(0);
    const headers = {
      ...V10,
      'Upload-Offset': String(offset),
      'Upload-Complete': '?1',
      'Content-Type': 'application/partial-upload',
    };
    const rest = await draftRequest(b.url, 'PATCH', url, headers, data.subarray(offset));
    expect(rest.status).toBe(201);
    expect(rest.headers['upload-complete']).toBe('?1');
    expect(sha256(await readFile(path.join(env.UPLOAD_DIR, id)))).toBe(sha256(data));
    expect(await redis.hgetall(keysOfUpload(env.REDIS_KEY_PREFIX, id).upload)).toMatchObject({
      status: 'completed',
      sha256: sha256(data),
    });
  });

  it('announces created, completed and terminated to webhooks, as for tus uploads', async () => {
    const hook = await startReceiver();
    closers.push(async () => {
      await hook.close();
    });
    const { base } = await context({ WEBHOOK_URLS: hook.url });
    const data = randomBytes(CHUNK + 1);
    const done = await draftRequest(
      base,
      'POST',
      '/files',
      { ...V6, 'Upload-Complete': '?1', 'Content-Disposition': 'attachment; filename="a.bin"' },
      data,
    );
    const id = pathOf(done.headers.location).split('/').pop() as string;
    await hook.waitFor(() => hook.of('upload.completed', id).length === 1);
    expect(hook.of('upload.created', id)[0]?.body.upload).toMatchObject({ id, size: data.length });
    expect(hook.of('upload.completed', id)[0]?.body.upload).toMatchObject({
      id,
      size: data.length,
      sha256: sha256(data),
      metadata: { filename: 'a.bin' },
    });
    const other = await draftRequest(base, 'POST', '/files', { ...V6, 'Upload-Complete': '?0' });
    const otherId = pathOf(other.headers.location).split('/').pop() as string;
    expect((await draftRequest(base, 'DELETE', pathOf(other.headers.location), V6)).status).toBe(204);
    await hook.waitFor(() => hook.of('upload.terminated', otherId).length === 1);
  });

  it('is authorized as tus requests are: no token, no upload (and no 104); another owner cannot resume it', async () => {
    const secret = 'a-jwt-secret-of-at-least-32-characters!';
    const { ctx, base } = await context({ AUTH_JWT_SECRET: secret });
    const token = (sub: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setExpirationTime('1m')
        .sign(new TextEncoder().encode(secret));
    const anonymous = await draftRequest(base, 'POST', '/files', { ...V6, 'Upload-Complete': '?1' }, Buffer.from('x'));
    expect(anonymous.status).toBe(401);
    expect(anonymous.informational).toEqual([]);
    expect((await ctx.allKeys()).filter((k) => k.includes('upload:'))).toEqual([]);

    const alice = { Authorization: `Bearer ${await token('alice')}` };
    const created = await draftRequest(
      base,
      'POST',
      '/files',
      { ...V6, ...alice, 'Upload-Complete': '?0' },
      Buffer.from('abc'),
    );
    expect(created.status).toBe(201);
    const url = pathOf(created.headers.location);
    const id = url.split('/').pop() as string;
    expect(await ctx.redis.hget(ctx.keys.forUpload(id).upload, 'owner')).toBe('alice');
    const bob = { Authorization: `Bearer ${await token('bob')}` };
    expect((await draftRequest(base, 'HEAD', url, { ...V6, ...bob })).status).toBe(403);
    const refused = await draftRequest(base, 'PATCH', url, { ...append(3, true), ...bob }, Buffer.from('def'));
    expect(refused.status).toBe(403);
    expect((await draftRequest(base, 'HEAD', url, { ...V6, ...alice })).headers['upload-offset']).toBe('3');
  });

  it('expires as any upload does: every key has a TTL, and the record says when', async () => {
    const { ctx, base } = await context({ UPLOAD_TTL_SECONDS: '3600' });
    const created = await draftRequest(base, 'POST', '/files', { ...V6, 'Upload-Complete': '?0' }, Buffer.from('abc'));
    const id = pathOf(created.headers.location).split('/').pop() as string;
    const keys = ctx.keys.forUpload(id);
    const record = await ctx.reader.readRecord(id);
    expect((record?.expiresAt ?? 0) - (record?.createdAt ?? 0)).toBe(3600_000);
    expect(await ctx.redis.pttl(keys.upload)).toBeGreaterThan(3500_000);
  });
});
