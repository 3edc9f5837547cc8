import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import request from 'supertest';
import { Upload } from 'tus-js-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { keysFor, verifySignature } from '../../src/index.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { freePort, killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';
import { createUpload, head, patch, TUS } from '../helpers/tus.js';
import { elapse, waitFor } from '../helpers/wait.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

const SECRET = 'a-webhook-secret-for-tests';

const contexts: TestContext[] = [];
const receivers: Array<Awaited<ReturnType<typeof startReceiver>>> = [];
afterEach(async () => {
  await killAllServerProcesses();
  for (const ctx of contexts.splice(0)) await ctx.close();
  for (const receiver of receivers.splice(0)) await receiver.close();
});

async function receiver(port?: number) {
  const r = await startReceiver(port);
  receivers.push(r);
  return r;
}

async function context(env: Record<string, string>) {
  const ctx = await createTestContext(env);
  contexts.push(ctx);
  return ctx;
}

/** The environment of a server child process delivering to `url`, on its own key prefix and folder. */
function processEnv(url: string, env: Record<string, string>) {
  return {
    REDIS_URL: inject('redisUrl'),
    UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'webhooks-')),
    REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
    WEBHOOK_URLS: url,
    ...env,
  };
}

/** Fast retries, so that a test sees several attempts in well under a second. */
// Quick retries, and a timeout no busy machine reaches: a receiver's 200 that comes after the timeout is
// (rightly) delivered again, and these tests count deliveries. The one test about a timeout sets its own.
const FAST_RETRIES = { WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_MAX_MS: '400', WEBHOOK_TIMEOUT_MS: '10000' };

/** Every key that got a 2xx, with how many times: at-least-once delivery with retries must still give 1 each. */
function successesPerKey(deliveries: Array<{ body: { id: string }; answered: number }>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of deliveries) if (d.answered === 200) counts.set(d.body.id, (counts.get(d.body.id) ?? 0) + 1);
  return counts;
}

/**
 * True once the outbox is empty; fails if it does not empty within a few seconds: a receiver
 * records a delivery before its 2xx reaches the dispatcher, which removes the entry only then.
 */
async function outboxIsEmpty(ctx: TestContext): Promise<boolean> {
  const emptyOne = async (w: (typeof ctx.keys.outboxes)[number]) => {
    const queues = await ctx.redis.smembers(w.queues);
    const due = await Promise.all(queues.map((queue) => ctx.redis.zcard(queue)));
    return (await ctx.redis.xlen(w.outbox)) === 0 && due.every((n) => n === 0);
  };
  // Every outbox (one per bucket, and that of earlier builds).
  const empty = async () => (await Promise.all(ctx.keys.outboxes.map(emptyOne))).every(Boolean);
  return waitFor(empty, { timeoutMs: 5000, what: 'the outbox and the delivery queues to empty' });
}

describe('webhooks', () => {
  it('sends created, progress, completed (size, metadata, SHA-256, storage path) and terminated, signed, with an idempotency key', async () => {
    const hook = await receiver();
    const ctx = await context({
      WEBHOOK_URLS: hook.url,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_PROGRESS_INTERVAL_SECONDS: '1',
      CHUNK_SIZE_BYTES: String(64 * 1024),
    });
    const base = await ctx.listen();
    const data = randomBytes(1024 * 1024);
    const url = await new Promise<string>((resolve, reject) => {
      const upload = new Upload(data, {
        endpoint: `${base}/files`,
        chunkSize: 256 * 1024,
        metadata: { filename: 'report.pdf', filetype: 'application/pdf' },
        retryDelays: [],
        onSuccess: () => resolve(upload.url as string),
        onError: reject,
      });
      upload.start();
    });
    const id = url.split('/').pop() as string;
    await hook.waitFor(() => hook.of('upload.completed', id).length === 1);

    const [created] = hook.of('upload.created', id);
    expect(created?.body.upload).toMatchObject({ id, size: data.length, offset: 0, status: 'uploading' });
    // Progress is throttled to one per second per upload: this upload took less.
    expect(hook.of('upload.progress', id).length).toBeGreaterThanOrEqual(1);
    expect(hook.of('upload.progress', id).length).toBeLessThanOrEqual(2);
    const completed = hook.of('upload.completed', id)[0];
    if (!completed) throw new Error('no upload.completed');
    expect(completed.body).toMatchObject({
      id: `${id}.completed`,
      type: 'upload.completed',
      upload: {
        id,
        path: `/files/${id}`,
        status: 'completed',
        size: data.length,
        offset: data.length,
        metadata: { filename: 'report.pdf', filetype: 'application/pdf' },
        sha256: sha256(data),
        owner: null,
        chunks: { total: 16, received: 16, failed: 0 },
      },
    });
    const stored = completed.body.upload.storagePath as string;
    expect(sha256(await readFile(stored))).toBe(sha256(data));
    expect(completed.headers['idempotency-key']).toBe(`${id}.completed`);
    expect(completed.headers['webhook-id']).toBe(`${id}.completed`);
    expect(completed.headers['webhook-event']).toBe('upload.completed');
    expect(completed.headers['content-type']).toBe('application/json');
    expect(verifySignature(SECRET, completed.raw, completed.headers['webhook-signature'] as string)).toBe(true);
    expect(verifySignature(SECRET, `${completed.raw} `, completed.headers['webhook-signature'] as string)).toBe(false);
    expect(
      verifySignature('another-secret-entirely', completed.raw, completed.headers['webhook-signature'] as string),
    ).toBe(false);

    expect((await request(base).delete(`/files/${id}`).set(TUS)).status).toBe(204);
    await hook.waitFor(() => hook.of('upload.terminated', id).length === 1);
    expect(hook.of('upload.terminated', id)[0]?.body.upload).toMatchObject({
      id,
      size: data.length,
      status: 'completed',
    });
    expect([...successesPerKey(hook.deliveries).values()].every((n) => n === 1)).toBe(true);
    expect(await outboxIsEmpty(ctx)).toBe(true);
  });

  it('has every event in the outbox by the time the request that caused it is answered', async () => {
    // The receiver refuses and the next attempt is a minute away: what each request queued stays in the outbox to be seen.
    const hook = await receiver();
    hook.answerWith(() => 503);
    const ctx = await context({ WEBHOOK_URLS: hook.url, WEBHOOK_RETRY_BASE_MS: '60000' });
    const agent = request(ctx.app);
    const { id, path: url } = await createUpload(agent, { size: 5 });
    const entries = async () =>
      (await ctx.redis.xrange(ctx.keys.webhooksOf(id).outbox, '-', '+')).map(
        ([, fields]) => fields[fields.indexOf('key') + 1],
      );
    expect(await entries()).toContain(`${id}.created`);
    expect((await patch(agent, url, 0, Buffer.from('hello'))).status).toBe(204);
    expect(await entries()).toContain(`${id}.completed`);
  });

  it('retries a receiver that answers 500 with growing delays, then delivers once per idempotency key', async () => {
    const hook = await receiver();
    let refusals = 3;
    hook.answerWith((body) => (body.type === 'upload.completed' && refusals-- > 0 ? 500 : 200));
    const ctx = await context({ WEBHOOK_URLS: hook.url, ...FAST_RETRIES });
    const agent = request(ctx.app);
    const { id } = await createUpload(agent, { size: 3, body: Buffer.from('abc') });
    await hook.waitFor(() => hook.of('upload.completed', id).some((d) => d.answered === 200));
    await elapse(600); // a fixed time: no attempt may follow the 200 in it (retries are at most 400 ms apart)
    const attempts = hook.of('upload.completed', id);
    expect(attempts.map((d) => d.answered)).toEqual([500, 500, 500, 200]);
    expect(attempts.map((d) => d.headers['webhook-attempt'])).toEqual(['1', '2', '3', '4']);
    expect(new Set(attempts.map((d) => d.headers['idempotency-key']))).toEqual(new Set([`${id}.completed`]));
    // Backoff: 50, 100, 200 ms (each within 0.8-1.2 of that).
    const gaps = attempts.slice(1).map((d, i) => d.at - (attempts[i] as { at: number }).at);
    expect(gaps[0]).toBeGreaterThanOrEqual(40);
    expect(gaps[1]).toBeGreaterThanOrEqual(80);
    expect(gaps[2]).toBeGreaterThanOrEqual(160);
    expect([...successesPerKey(hook.deliveries).values()].every((n) => n === 1)).toBe(true);
    expect(await outboxIsEmpty(ctx)).toBe(true);
  });

  it('keeps retrying a receiver that is down (connection refused) until it is up again', async () => {
    const port = await freePort();
    const ctx = await context({ WEBHOOK_URLS: `http://127.0.0.1:${port}/hook`, ...FAST_RETRIES });
    const { id } = await createUpload(request(ctx.app), { size: 3, body: Buffer.from('abc') });
    // Failed attempts of the delivery that has had the fewest, once all three (created, progress, completed) have
    // failed at least once: the receiver comes up only when every one of them has failed three times.
    const fewestAttempts = async () => {
      const counts = (await ctx.redis.hvals(ctx.keys.webhooksOf(id).attempts)).map(Number);
      return counts.length === 3 ? Math.min(...counts) : 0;
    };
    await waitFor(async () => (await fewestAttempts()) >= 3, { what: 'three attempts of each delivery' });
    expect(await fewestAttempts()).toBeGreaterThanOrEqual(3);
    const hook = await receiver(port);
    await hook.waitFor(() => hook.of('upload.completed', id).length === 1);
    expect(Number(hook.of('upload.completed', id)[0]?.headers['webhook-attempt'])).toBeGreaterThanOrEqual(4);
    // created, progress and completed (creation-with-upload), all delivered in the end.
    await hook.waitFor(() => hook.deliveries.length === 3);
    expect(await outboxIsEmpty(ctx)).toBe(true);
  });

  it('keeps delivering to a healthy receiver while another one hangs', async () => {
    const healthy = await receiver();
    const hanging = await receiver();
    hanging.answerWith(() => 0);
    // A hanging delivery is given up only after 20 s; the healthy receiver must not wait for that.
    const ctx = await context({
      WEBHOOK_URLS: `${hanging.url},${healthy.url}`,
      WEBHOOK_EVENTS: 'upload.created',
      WEBHOOK_TIMEOUT_MS: '20000',
    });
    const agent = request(ctx.app);
    for (let i = 0; i < 60; i++) expect((await createUpload(agent, { size: 10 })).res.status).toBe(201);
    await healthy.waitFor(() => healthy.deliveries.length === 60, 10_000);
    expect(new Set(healthy.deliveries.map((d) => d.body.id)).size).toBe(60);
    // The hanging receiver holds no more than its share of this instance's deliveries.
    expect(hanging.deliveries.length).toBe(8);
    // With its backlog waiting, the dispatcher looks at the outbox only when polling: it does not spin.
    const redis = ctx.redis as unknown as { claimWebhooks: (...args: unknown[]) => Promise<unknown> };
    const claim = redis.claimWebhooks.bind(ctx.redis);
    let claims = 0;
    redis.claimWebhooks = (...args) => {
      claims++;
      return claim(...args);
    };
    await elapse(1000); // a fixed time: the claims made in it are what is counted
    expect(claims).toBeLessThanOrEqual(3);
    expect(hanging.deliveries.length).toBe(8);
  });

  it('queues later a completion whose append failed: the sweeper finds it completed and not announced', async () => {
    const hook = await receiver();
    const ctx = await context({ WEBHOOK_URLS: hook.url, ...FAST_RETRIES });
    const agent = request(ctx.app);
    const data = randomBytes(100);
    const { path: url, id } = await createUpload(agent, { size: data.length });
    await hook.waitFor(() => hook.of('upload.created', id).length === 1);
    expect(await outboxIsEmpty(ctx)).toBe(true);
    // The next appends fail, as after a failover between the two writes (or a crash: the record is the same);
    // for the second upload, both its creation's and its completion's.
    // One Redis: one bucket, so the outbox of both uploads.
    const w = ctx.keys.webhooksOf(id);
    await ctx.redis.set(w.outbox, 'not a stream');
    const other = await createUpload(agent, { size: 2 });
    expect(other.res.status).toBe(201);
    expect((await patch(agent, url, 0, data)).status).toBe(204);
    expect((await patch(agent, other.path, 0, Buffer.from('ok'))).status).toBe(204);
    await ctx.redis.del(w.outbox);
    const record = await ctx.reader.readRecord(id);
    expect(record).toMatchObject({ status: 'completed', announced: 'created' });
    expect(await ctx.reader.readRecord(other.id)).toMatchObject({ status: 'completed', announced: 'created' });

    // Within the grace the append may still be on its way: left alone.
    await ctx.sweeper.sweep();
    await elapse(300); // a fixed time: no upload.completed may come in it
    expect(hook.of('upload.completed', id)).toHaveLength(0);
    await ctx.redis.del(ctx.keys.orphanPassMarker);
    await ctx.sweeper.sweep(Date.now() + 61_000);
    await hook.waitFor(() => hook.of('upload.completed', id).length === 1);
    expect(hook.of('upload.completed', id)[0]?.body).toMatchObject({
      id: `${id}.completed`,
      upload: { status: 'completed', size: 100, sha256: sha256(data) },
    });
    expect((await ctx.reader.readRecord(id))?.announced).toBe('completed');
    await hook.waitFor(() => hook.of('upload.completed', other.id).length === 1);
    expect(hook.of('upload.created', other.id)).toHaveLength(0);
    // Announced now: a later pass does not repeat it.
    await ctx.redis.del(ctx.keys.orphanPassMarker);
    await ctx.sweeper.sweep(Date.now() + 62_000);
    await elapse(300); // a fixed time: no second upload.completed may come in it
    expect(hook.of('upload.completed', id)).toHaveLength(1);
  });

  it('says upload.failed for an unfinished upload whose bytes vanished, whoever finds it, and nothing for a completed one moved away', async () => {
    const hook = await receiver();
    const ctx = await context({ WEBHOOK_URLS: hook.url, ...FAST_RETRIES });
    const agent = request(ctx.app);
    const done = await createUpload(agent, { size: 3, body: Buffer.from('abc') });
    const unfinished = await createUpload(agent, { size: 10, body: Buffer.from('abc') });
    await hook.waitFor(() => hook.of('upload.completed', done.id).length === 1);
    // A worker moves the finished file, as upload.completed invites it to; the client checks its upload again.
    await rm(path.join(ctx.dir, done.id));
    await rm(path.join(ctx.dir, unfinished.id));
    expect((await head(agent, done.path)).status).toBe(410);
    // No request comes for the unfinished one: the sweeper's record pass finds it.
    await ctx.sweeper.sweep(Date.now() + 61_000);
    await hook.waitFor(() => hook.of('upload.failed', unfinished.id).length === 1);
    expect(hook.of('upload.failed', unfinished.id)[0]?.body).toMatchObject({
      reason: 'its bytes are no longer on disk',
      upload: { id: unfinished.id, offset: 3, size: 10 },
    });
    expect(await ctx.reader.readRecord(unfinished.id)).toBeUndefined();
    await elapse(300); // a fixed time: no upload.failed may come for the completed one in it
    expect(hook.of('upload.failed', done.id)).toHaveLength(0);
  });

  it('marks the parts of a parallel upload, so that only the final upload.completed is taken for the file', async () => {
    const hook = await receiver();
    const ctx = await context({ WEBHOOK_URLS: hook.url, WEBHOOK_EVENTS: 'upload.completed' });
    const base = await ctx.listen();
    const agent = request(base);
    const partial = { 'Upload-Concat': 'partial' };
    const a = await createUpload(agent, { size: 2, body: Buffer.from('ab'), headers: partial });
    const b = await createUpload(agent, { size: 2, body: Buffer.from('cd'), headers: partial });
    const final = await agent.post('/files').set(TUS).set('Upload-Concat', `final;${a.path} ${b.path}`);
    expect(final.status).toBe(201);
    const finalId = String(final.headers.location).split('/').pop() as string;
    await hook.waitFor(() => hook.of('upload.completed').length === 3);
    expect(hook.of('upload.completed', a.id)[0]?.body.upload).toMatchObject({ concat: 'partial', partials: null });
    expect(hook.of('upload.completed', b.id)[0]?.body.upload).toMatchObject({ concat: 'partial' });
    expect(hook.of('upload.completed', finalId)[0]?.body.upload).toMatchObject({
      concat: 'final',
      partials: [a.id, b.id],
      size: 4,
      sha256: sha256(Buffer.from('abcd')),
    });
  });

  it('moves a delivery to the dead-letter stream after its last attempt', async () => {
    const hook = await receiver();
    hook.answerWith(() => 500);
    const ctx = await context({
      WEBHOOK_URLS: hook.url,
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_EVENTS: 'upload.created',
      ...FAST_RETRIES,
    });
    const { id } = await createUpload(request(ctx.app), { size: 3 });
    await waitFor(async () => (await ctx.redis.xlen(ctx.keys.webhooksOf(id).dead)) > 0, { what: 'a dead letter' });
    const [[, flat] = ['', []]] = await ctx.redis.xrange(ctx.keys.webhooksOf(id).dead, '-', '+');
    const dead = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
    expect(dead).toMatchObject({
      url: hook.url,
      key: `${id}.created`,
      type: 'upload.created',
      attempts: '3',
      error: 'HTTP 500',
    });
    expect(hook.deliveries.length).toBe(3);
    expect(await outboxIsEmpty(ctx)).toBe(true);
  });

  it('sends upload.expired when the sweeper removes an upload, and upload.failed when assembling one fails', async () => {
    const hook = await receiver();
    const ctx = await context({ WEBHOOK_URLS: hook.url, UPLOAD_TTL_SECONDS: '1', ...FAST_RETRIES });
    const base = await ctx.listen();
    const agent = request(base);
    const stale = await createUpload(agent, { size: 10 });
    expect((await patch(agent, stale.path, 0, Buffer.from('12345'))).status).toBe(204);
    const resumedTooLate = await createUpload(agent, { size: 10, body: Buffer.from('123') });
    const bytesLost = await createUpload(agent, { size: 10, body: Buffer.from('123') });
    await rm(path.join(ctx.dir, bytesLost.id));
    expect((await head(agent, bytesLost.path)).status).toBe(410);
    await hook.waitFor(() => hook.of('upload.failed', bytesLost.id).length === 1);
    expect(hook.of('upload.failed', bytesLost.id)[0]?.body).toMatchObject({
      reason: 'its bytes are no longer on disk',
      upload: { size: 10, offset: 3 },
    });
    // Partials whose bytes vanish from disk after they completed: the final upload fails while assembling.
    const partial = { 'Upload-Concat': 'partial' };
    const a = await createUpload(agent, { size: 2, body: Buffer.from('ab'), headers: partial });
    await rm(path.join(ctx.dir, a.id));
    const final = await agent.post('/files').set(TUS).set('Upload-Concat', `final;${base}${a.path}`);
    expect(final.status).toBe(500);
    const assemblyFailed = () => hook.of('upload.failed').filter((d) => d.body.upload.id !== bytesLost.id);
    await hook.waitFor(() => assemblyFailed().length === 1);
    const finalId = assemblyFailed()[0]?.body.upload.id as string;
    expect(assemblyFailed()[0]?.body).toMatchObject({
      type: 'upload.failed',
      reason: expect.stringMatching(/concatenation failed/),
    });
    expect(finalId).not.toBe(a.id);

    await elapse(1100); // a fixed time: the upload TTL must run out (1 s, the least UPLOAD_TTL_SECONDS takes)
    // A client that comes back after the expiry meets the removal before the sweeper does: it is announced all the same.
    expect((await head(agent, resumedTooLate.path)).status).toBe(410);
    await ctx.sweeper.sweep();
    await hook.waitFor(() => hook.of('upload.expired', resumedTooLate.id).length === 1);
    expect(hook.of('upload.expired', resumedTooLate.id)[0]?.body).toMatchObject({ bytesRemoved: 3 });
    await hook.waitFor(() => hook.of('upload.expired', stale.id).length === 1);
    expect(hook.of('upload.expired', stale.id)[0]?.body).toMatchObject({
      id: `${stale.id}.expired`,
      bytesRemoved: 5,
      upload: { id: stale.id, path: `/files/${stale.id}` },
    });
    // Redis expired the record before the sweeper came for the bytes: what the upload was is in its upload.created.
    expect(hook.of('upload.created', stale.id)[0]?.body.upload).toMatchObject({ size: 10 });
  });

  it('delivers each event once from two instances sharing the outbox', async () => {
    const hook = await receiver();
    const first = await context({ WEBHOOK_URLS: hook.url, ...FAST_RETRIES });
    const second = await context({
      WEBHOOK_URLS: hook.url,
      REDIS_KEY_PREFIX: first.prefix,
      UPLOAD_DIR: first.dir,
      ...FAST_RETRIES,
    });
    const agents = [request(first.app), request(second.app)];
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        createUpload(agents[i % 2] as ReturnType<typeof request>, { size: 2, body: Buffer.from('hi') }),
      ),
    );
    await hook.waitFor(() => hook.of('upload.completed').length >= 20);
    // All 60 in, then a fixed time in which no duplicate may come (retries are at most 400 ms apart).
    await hook.waitFor(() => hook.deliveries.length >= 60);
    await elapse(700);
    // created, progress, completed per upload; none twice.
    expect(hook.deliveries.length).toBe(60);
    expect(successesPerKey(hook.deliveries).size).toBe(60);
    expect(new Set(hook.of('upload.completed').map((d) => d.body.upload.id))).toEqual(new Set(ids.map((u) => u.id)));
    expect(await outboxIsEmpty(first)).toBe(true);
  });

  it('delivers upload.completed exactly once per idempotency key across a kill -9 and a restart of the server', async () => {
    const hook = await receiver();
    hook.answerWith(() => 500);
    const env = processEnv(hook.url, {
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_RETRY_BASE_MS: '100',
      WEBHOOK_RETRY_MAX_MS: '300',
      WEBHOOK_TIMEOUT_MS: '500',
    });
    const server = await startServerProcess(env);
    const agent = request(server.url);
    const data = randomBytes(100_000);
    const { id, path: url } = await createUpload(agent, { size: data.length, metadata: { filename: 'a.bin' } });
    expect((await patch(agent, url, 0, data)).status).toBe(204);
    await hook.waitFor(() => hook.of('upload.completed', id).length >= 2);
    await server.kill('SIGKILL');
    const refusedBeforeCrash = hook.of('upload.completed', id).length;

    hook.answerWith(() => 200);
    const restarted = await startServerProcess(env);
    await hook.waitFor(() => hook.of('upload.completed', id).some((d) => d.answered === 200));
    // A fixed time, long enough for any duplicate to show up: several retry periods and a lease.
    await elapse(1500);
    const completed = hook.of('upload.completed', id);
    expect(completed.length).toBe(refusedBeforeCrash + 1);
    expect(completed.filter((d) => d.answered === 200).length).toBe(1);
    expect(new Set(completed.map((d) => d.body.id))).toEqual(new Set([`${id}.completed`]));
    const delivered = completed.find((d) => d.answered === 200);
    expect(delivered?.body.upload).toMatchObject({
      size: data.length,
      sha256: sha256(data),
      metadata: { filename: 'a.bin' },
    });
    expect(verifySignature(SECRET, delivered?.raw ?? '', delivered?.headers['webhook-signature'] as string)).toBe(true);
    expect([...successesPerKey(hook.deliveries).values()].every((n) => n === 1)).toBe(true);
    expect(successesPerKey(hook.deliveries).has(`${id}.created`)).toBe(true);
    await restarted.kill('SIGTERM');
  });

  it('redelivers, after its lease runs out, a delivery that was in flight when its server was killed', async () => {
    const hook = await receiver();
    hook.answerWith(() => 0); // holds the request: the delivery is in flight
    const env = processEnv(hook.url, { WEBHOOK_EVENTS: 'upload.completed', WEBHOOK_TIMEOUT_MS: '30000' });
    const server = await startServerProcess(env);
    const { id } = await createUpload(request(server.url), { size: 2, body: Buffer.from('ok') });
    await hook.waitFor(() => hook.of('upload.completed', id).length === 1);
    await server.kill('SIGKILL');
    hook.answerWith(() => 200);
    // A new instance with a short timeout: the dead one's lease (2 x 30 s + 1 s) is what it must wait out; shorten it.
    const w = keysFor({ keyPrefix: env.REDIS_KEY_PREFIX }).webhooksOf(id).queue(hook.url);
    const redis = new Redis(inject('redisUrl'));
    try {
      const [entry] = await redis.zrange(w, 0, 0);
      expect(entry).toBeDefined();
      await redis.zadd(w, Date.now() + 300, entry as string);
    } finally {
      redis.disconnect();
    }
    await startServerProcess({ ...env, WEBHOOK_TIMEOUT_MS: '500' });
    await hook.waitFor(() => hook.of('upload.completed', id).some((d) => d.answered === 200));
    expect(hook.of('upload.completed', id).map((d) => d.headers['webhook-attempt'])).toEqual(['1', '1']);
  });
});
