import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Cluster, Redis } from 'ioredis';
import { SignJWT } from 'jose';
import request from 'supertest';
import { Upload } from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { duplicateOf } from '../../src/redis/client.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { openPatch } from '../helpers/raw-patch.js';
import { type RedisClusterProcesses, startRedisCluster } from '../helpers/redis-cluster.js';
import { createUpload, head, patch } from '../helpers/tus.js';
import { elapse, waitFor } from '../helpers/wait.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

const CHUNK = 64 * 1024;

let cluster: RedisClusterProcesses;
let ctx: TestContext;
let base: string;

beforeAll(async () => {
  cluster = await startRedisCluster(mkdtempSync(path.join(inject('tmpRoot'), 'cluster-')));
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK) }, cluster.url);
  base = await ctx.listen();
}, 60_000);
afterAll(async () => {
  await ctx?.close();
  await cluster?.stop();
});

/** The node (host:port) serving a key's slot. */
async function nodeOf(key: string): Promise<string> {
  const c = ctx.redis as Cluster;
  const slot = Number(await c.cluster('KEYSLOT', key));
  const slots = (await c.cluster('SLOTS')) as unknown as Array<[number, number, [string, number]]>;
  const owner = slots.find(([from, to]) => slot >= from && slot <= to);
  return `${owner?.[2][0]}:${owner?.[2][1]}`;
}

/** Pub/sub messages the nodes sent over the cluster bus so far: classic PUBLISH broadcasts, and sharded ones. */
async function busPublishes(): Promise<{ classic: number; sharded: number }> {
  let classic = 0;
  let sharded = 0;
  for (const node of cluster.nodes) {
    const client = new Redis(node.port, '127.0.0.1');
    try {
      const info = String(await client.cluster('INFO'));
      const stat = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      classic += stat('cluster_stats_messages_publish_sent');
      sharded += stat('cluster_stats_messages_publishshard_sent');
    } finally {
      client.disconnect();
    }
  }
  return { classic, sharded };
}

function uploadWith(data: Buffer, options: ConstructorParameters<typeof Upload>[1]): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const u: Upload = new Upload(data, { ...options, onSuccess: () => resolve(u), onError: reject });
    u.start();
  });
}

describe('on a real Redis Cluster (3 masters, 3 replicas)', () => {
  it("uploads with tus-js-client, interrupted and resumed, byte-identical; an upload's keys share one node", async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const first = new Upload(data, { endpoint: `${base}/files`, chunkSize: 256 * 1024, retryDelays: [] });
    await new Promise<void>((resolve, reject) => {
      first.options.onChunkComplete = (_c, accepted) => {
        if (accepted >= 768 * 1024) first.abort().then(resolve, reject);
      };
      first.options.onError = reject;
      first.start();
    });
    await uploadWith(data, { uploadUrl: first.url as string, chunkSize: 256 * 1024 });
    const id = (first.url as string).split('/').pop() as string;
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    expect(await ctx.reader.readProgress(id)).toMatchObject({
      status: 'completed',
      receivedChunks: 32,
      sha256: sha256(data),
    });

    const k = ctx.keys.forUpload(id);
    const nodes = new Set([await nodeOf(k.upload), await nodeOf(k.chunksReceived), await nodeOf(ctx.keys.lock(id))]);
    expect(nodes.size).toBe(1);
    expect(await ctx.redis.pttl(k.upload)).toBeGreaterThan(0);
    expect(await ctx.redis.pttl(k.chunksReceived)).toBeGreaterThan(0);
  });

  it('runs a parallel upload (concatenation) and shows it as one group', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const group = randomUUID();
    const upload = await uploadWith(data, {
      endpoint: `${base}/files`,
      parallelUploads: 3,
      metadataForPartialUploads: { group },
      metadata: { filename: 'x.bin' },
    });
    const id = (upload.url as string).split('/').pop() as string;
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    const progress = (await request(base).get(`/api/groups/${group}/progress`)).body;
    expect(progress).toMatchObject({ status: 'completed', final: { id, sha256: sha256(data) } });
    expect(progress.parts).toHaveLength(3);
  });

  it('answers the dashboard endpoints', async () => {
    const agent = request(base);
    const { path: url, id } = await createUpload(agent, { size: 5 * CHUNK });
    await patch(agent, url, 0, randomBytes(2 * CHUNK + 1));
    expect((await agent.get(`/api/uploads/${id}/progress`)).body).toMatchObject({ receivedChunks: 2, totalChunks: 5 });
    expect((await agent.get(`/api/uploads/${id}/missing`)).body).toMatchObject({ missingRanges: [[2, 4]] });
  });

  it('serialises PATCHes across two instances with the Redis lock (release requests over cluster pub/sub)', async () => {
    const other = await createTestContext(
      { CHUNK_SIZE_BYTES: String(CHUNK), REDIS_KEY_PREFIX: ctx.prefix, UPLOAD_DIR: ctx.dir },
      cluster.url,
    );
    try {
      const otherBase = await other.listen();
      const { path: url, id } = await createUpload(request(base), { size: 2 * CHUNK });
      const a = openPatch(base, url, 0, 2 * CHUNK);
      await waitFor(async () => (await ctx.redis.exists(ctx.keys.lock(id))) === 1, { what: "the first one's lock" });
      // Heard where the instances hear it: the sharded channel of the upload's bucket.
      const asks = duplicateOf(ctx.redis, { shardedSubscribers: true });
      let asked = false;
      asks.on('smessage', (_channel: string, message: string) => {
        if (message === id) asked = true;
      });
      await asks.ssubscribe(ctx.keys.lockRelease.shardOf(id));
      const b = openPatch(otherBase, url, 0, 2 * CHUNK);
      await waitFor(() => asked, { what: 'the other instance to ask for the lock' }).finally(() => asks.disconnect());
      await Promise.all([a.write(Buffer.alloc(2 * CHUNK, 1)), b.write(Buffer.alloc(2 * CHUNK, 2))]);
      a.end();
      b.end();
      const statuses = [(await a.response).status, (await b.response).status].sort();
      expect(statuses[0]).toBe(204);
      expect([409, 423]).toContain(statuses[1]);
      const file = await readFile(path.join(ctx.dir, id));
      expect(file.equals(Buffer.alloc(2 * CHUNK, 1)) || file.equals(Buffer.alloc(2 * CHUNK, 2))).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('queues and delivers webhooks, with owners and their limits (every script on one slot)', async () => {
    const hook = await startReceiver();
    const secret = 'a-jwt-secret-of-at-least-32-characters!';
    const owned = await createTestContext(
      { WEBHOOK_URLS: hook.url, AUTH_JWT_SECRET: secret, OWNER_MAX_CONCURRENT_UPLOADS: '1' },
      cluster.url,
    );
    try {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('alice')
        .setExpirationTime('1m')
        .sign(new TextEncoder().encode(secret));
      const alice = { Authorization: `Bearer ${token}` };
      const agent = request(owned.app);
      const { path: url, id } = await createUpload(agent, { size: 4, headers: alice, metadata: { group: 'g' } });
      expect((await createUpload(agent, { size: 4, headers: alice })).res.status).toBe(429);
      expect((await patch(agent, url, 0, Buffer.from('data')).set(alice)).status).toBe(204);
      await hook.waitFor(() => hook.of('upload.completed', id).length === 1);
      expect(hook.of('upload.completed', id)[0]?.body.upload).toMatchObject({
        owner: 'alice',
        sha256: sha256(Buffer.from('data')),
      });
      expect((await agent.get('/api/groups/g/progress').set(alice)).status).toBe(200);
      expect(await owned.reader.readRecord(id)).toMatchObject({ announced: 'completed', owner: 'alice' });
    } finally {
      await owned.close();
      await hook.close();
    }
  });

  it('sends the variable-key webhook scripts to the outbox node, also in a tick shared with other commands', async () => {
    // ioredis groups an auto-pipelined script whose keys it does not know by its first argument (here the key
    // count, "3"): a command for the node of slot("3") in the same tick would share, and fail, its batch.
    const slot3Node = await nodeOf('3');
    // An outbox (there is one per bucket) on another node.
    let b = 0;
    while ((await nodeOf((ctx.keys.outboxes[b] as (typeof ctx.keys.outboxes)[number]).outbox)) === slot3Node) b++;
    const w = ctx.keys.outboxes[b] as (typeof ctx.keys.outboxes)[number];
    expect(slot3Node).not.toBe(await nodeOf(w.outbox));
    let n = 0;
    while ((await nodeOf(ctx.keys.forUpload(`u${n}`).upload)) !== slot3Node) n++;
    const url = 'http://127.0.0.1:9/hook';
    const [read, enqueued] = await Promise.allSettled([
      ctx.redis.hgetall(ctx.keys.forUpload(`u${n}`).upload),
      ctx.redis.enqueueWebhooks(3, w.outbox, w.queues, w.queue(url), Date.now(), 'upload.created', 'k', '{}', url),
    ]);
    expect(read.status).toBe('fulfilled');
    expect(enqueued.status).toBe('fulfilled');
    await ctx.redis.del(w.outbox, w.queues, w.queue(url));
  });

  it('sweeps an expired upload (keys and bytes) found through the index', async () => {
    const short = await createTestContext({ UPLOAD_TTL_SECONDS: '1' }, cluster.url);
    try {
      const { path: url, id } = await createUpload(request(short.app), { size: 100 });
      await patch(request(short.app), url, 0, randomBytes(10));
      await elapse(1100); // a fixed time: the 1 s upload TTL (the least UPLOAD_TTL_SECONDS takes) must run out
      const report = await short.sweeper.sweep();
      expect(report.expired).toBe(1);
      expect(existsSync(path.join(short.dir, id))).toBe(false);
      expect(await short.redis.exists(short.keys.forUpload(id).upload)).toBe(0);
    } finally {
      await short.close();
    }
  });

  it('streams live events (pub/sub across the cluster) and lists uploads from the activity index', async () => {
    const { openEvents } = await import('../helpers/sse.js');
    const { path: url, id } = await createUpload(request(base), {
      size: 2 * CHUNK,
      metadata: { filename: 'live.bin' },
    });
    const events = openEvents(`${base}/api/uploads/${id}/events`);
    await events.waitFor((e) => e.event === 'snapshot');
    await patch(request(base), url, 0, randomBytes(2 * CHUNK));
    const done = await events.waitFor((e) => e.event === 'completed');
    expect(done.data).toMatchObject({ id, upload: { status: 'completed', filename: 'live.bin' } });
    await events.close();
    const page = await ctx.reader.listUploads({ limit: 5, status: 'completed' });
    expect(page.uploads[0]?.id).toBe(id);
  });

  it('carries live events between instances by sharded pub/sub: no message broadcast over the cluster bus', async () => {
    const other = await createTestContext(
      { CHUNK_SIZE_BYTES: String(CHUNK), REDIS_KEY_PREFIX: ctx.prefix, UPLOAD_DIR: ctx.dir },
      cluster.url,
    );
    try {
      const { openEvents } = await import('../helpers/sse.js');
      const { path: url, id } = await createUpload(request(base), { size: 2 * CHUNK });
      const events = openEvents(`${await other.listen()}/api/uploads/${id}/events`);
      await events.waitFor((e) => e.event === 'snapshot');
      const before = await busPublishes();
      await patch(request(base), url, 0, randomBytes(2 * CHUNK));
      // Written through one instance, heard through the other.
      const done = await events.waitFor((e) => e.event === 'completed');
      expect(done.data).toMatchObject({ id, upload: { status: 'completed' } });
      await events.close();
      const after = await busPublishes();
      expect(after.classic - before.classic).toBe(0);
      // SPUBLISH reaches the shard's replica over the bus as a sharded message: the events did travel.
      expect(after.sharded - before.sharded).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });

  it('warns at start when any master may evict upload state', async () => {
    const { startServerProcess, killAllServerProcesses } = await import('../helpers/server-process.js');
    const master = new Redis(cluster.nodes[0]?.port as number, '127.0.0.1');
    try {
      await master.config('SET', 'maxmemory-policy', 'volatile-lru');
      const server = await startServerProcess({
        REDIS_URL: cluster.url,
        UPLOAD_DIR: ctx.dir,
        REDIS_KEY_PREFIX: ctx.prefix,
      });
      expect(server.output()).toMatch(
        new RegExp(`"node":"127\\.0\\.0\\.1:${cluster.nodes[0]?.port}".*volatile-lru.*EVICT LIVE UPLOAD STATE`),
      );
    } finally {
      await master.config('SET', 'maxmemory-policy', 'noeviction');
      master.disconnect();
      await killAllServerProcesses();
    }
  });

  it('goes on through a CLUSTER FAILOVER of the master holding an upload', async () => {
    const data = randomBytes(6 * CHUNK);
    const agent = request(base);
    // The hardest case: the upload on the master that also holds this instance's liveness key, so that a lock's
    // SET and the liveness SET go to the failed-over master in one batch (see slotsRefreshInterval in client.ts).
    const livenessNode = await nodeOf(ctx.keys.instance(ctx.locker.liveness.id));
    let created = await createUpload(agent, { size: data.length });
    while ((await nodeOf(ctx.keys.forUpload(created.id).upload)) !== livenessNode) {
      created = await createUpload(agent, { size: data.length });
    }
    const { path: url, id } = created;
    await patch(agent, url, 0, data.subarray(0, 2 * CHUNK));

    const master = await nodeOf(ctx.keys.forUpload(id).upload);
    const masterClient = new Redis(Number(master.split(':')[1]), '127.0.0.1');
    const replication = String(await masterClient.info('replication'));
    const replicaLine = replication.match(/slave0:ip=([^,]+),port=(\d+)/);
    const masterOffset = Number(replication.match(/master_repl_offset:(\d+)/)?.[1]);
    masterClient.disconnect();
    expect(replicaLine).not.toBeNull();
    const replica = new Redis(Number(replicaLine?.[2]), '127.0.0.1');
    try {
      // Let the replica catch up, then make it the master.
      const replicaOffset = async () =>
        Number(String(await replica.info('replication')).match(/slave_repl_offset:(\d+)/)?.[1]);
      await waitFor(async () => (await replicaOffset()) >= masterOffset, {
        what: `the replica to catch up to offset ${masterOffset}`,
      });
      expect(await replica.cluster('FAILOVER')).toBe('OK');
      await waitFor(async () => /role:master/.test(String(await replica.info('replication'))), {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: 'the failover (the replica to become master)',
      });
    } finally {
      replica.disconnect();
    }
    // The server finds the new master by itself (MOVED, or its slot map read again within a second), and the
    // state came along. Until then a request is told to retry (503 with Retry-After), never a 500.
    let headStatus = 0;
    const refusals: string[] = [];
    const headAnswers = async () => {
      const answer = await head(agent, url);
      headStatus = answer.status;
      if (headStatus !== 200) refusals.push(`${headStatus} ${answer.headers['retry-after']}`);
      return headStatus === 200;
    };
    await waitFor(headAnswers, { intervalMs: 200, what: () => `HEAD to answer 200 (last: ${headStatus})` });
    expect(headStatus).toBe(200);
    for (const refusal of refusals) expect(refusal).toMatch(/^503 \d+$/);
    expect((await head(agent, url)).headers['upload-offset']).toBe(String(2 * CHUNK));
    expect((await patch(agent, url, 2 * CHUNK, data.subarray(2 * CHUNK))).status).toBe(204);
    expect(await ctx.reader.readRecord(id)).toMatchObject({
      status: 'completed',
      receivedChunks: 6,
      sha256: sha256(data),
    });
  });
});
