import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisClient, type RedisClient } from '../../src/redis/client.js';
import { earlierLayouts, keysFor } from '../../src/redis/keys.js';
import { offsetOn, patchOn, runUntilExit } from '../helpers/instances.js';
import { olderBuild } from '../helpers/old-build.js';
import { type RedisClusterProcesses, startRedisCluster } from '../helpers/redis-cluster.js';
import { createUploadOn, killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

/** The last build that keeps uploads in the layout before buckets (`upload:{<id>}`, global indexes). */
const BEFORE_BUCKETS = '68ca91c';
const CHUNK = 64 * 1024;
const TOKEN = 'a-dashboard-token-for-tests';

let oldDir: string;
let cluster: RedisClusterProcesses;
beforeAll(async () => {
  const root = mkdtempSync(path.join(inject('tmpRoot'), 'migrate-'));
  [oldDir, cluster] = await Promise.all([
    olderBuild(BEFORE_BUCKETS, path.join(root, 'src-tree')),
    startRedisCluster(path.join(root, 'cluster'), 3, 0),
  ]);
}, 90_000);
afterEach(() => killAllServerProcesses());
afterAll(() => cluster?.stop());

/** Every key of `prefix` (SCAN on each master of a cluster). */
async function keysOf(redis: RedisClient, prefix: string): Promise<string[]> {
  const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  return found;
}

/** Uploads in flight on the build before buckets: one half sent, one cut mid-chunk, one completed. */
async function uploadsOnTheOldBuild(env: Record<string, string>) {
  const old = await startServerProcess(env, { cwd: oldDir });
  const data = { half: randomBytes(4 * CHUNK), cut: randomBytes(3 * CHUNK), done: randomBytes(2 * CHUNK) };
  const half = await createUploadOn(old, data.half.length);
  const cut = await createUploadOn(old, data.cut.length);
  const done = await createUploadOn(old, data.done.length);
  expect(await patchOn(old, half.path, 0, data.half.subarray(0, 2 * CHUNK))).toBe(204);
  expect(await patchOn(old, cut.path, 0, data.cut.subarray(0, CHUNK + 1000))).toBe(204);
  expect(await patchOn(old, done.path, 0, data.done)).toBe(204);
  await old.kill('SIGTERM');
  return { data, uploads: { half, cut, done } };
}

for (const topology of ['one Redis', 'a 3-master cluster'] as const) {
  describe(`moving uploads made by the build before buckets (${BEFORE_BUCKETS}), on ${topology}`, () => {
    it('refuses to start on the old layout, migrate-redis moves every upload, and the clients resume byte-identical', async () => {
      const redisUrl = topology === 'one Redis' ? inject('redisUrl') : cluster.url;
      const prefix = `test-${randomUUID()}:`;
      // A receiver that refuses while the old build runs: its deliveries wait in the old outbox.
      const hook = await startReceiver();
      hook.answerWith(() => 503);
      const env = {
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: prefix,
        UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'migrate-uploads-')),
        CHUNK_SIZE_BYTES: String(CHUNK),
        DASHBOARD_TOKEN: TOKEN,
        WEBHOOK_URLS: hook.url,
        WEBHOOK_EVENTS: 'upload.completed',
        WEBHOOK_RETRY_BASE_MS: '50',
        WEBHOOK_RETRY_MAX_MS: '400',
        // A delivery leased by the old build when it stopped is taken again once its lease (2 x this + 1 s) runs out.
        WEBHOOK_TIMEOUT_MS: '1000',
      };
      const { data, uploads } = await uploadsOnTheOldBuild(env);
      const redis = createRedisClient(redisUrl, { commandTimeoutMs: 5000 });
      try {
        expect(hook.of('upload.completed', uploads.done.id).every((d) => d.answered === 503)).toBe(true);
        hook.answerWith(() => 200);
        const earlier = earlierLayouts(prefix);
        expect(await redis.exists(`${prefix}upload:{${uploads.half.id}}`)).toBe(1);

        // This build refuses to start while the old layout holds uploads: they would be out of its sight.
        const refused = await runUntilExit(env);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toContain('npm run migrate-redis');

        const migrated = await runUntilExit(env, 30_000, 'src/migrate-redis.ts');
        expect(migrated.code, migrated.stderr).toBe(0);
        expect(migrated.stdout).toContain('3 upload(s) moved');

        // Nothing is left in the old layout; every key has a TTL; each upload is where this build looks for it.
        const keys = keysFor({ keyPrefix: prefix, url: redisUrl });
        const all = await keysOf(redis, prefix);
        for (const { id } of Object.values(uploads)) {
          expect(all).not.toContain(`${prefix}upload:{${id}}`);
          expect(all).not.toContain(`${prefix}upload:{${id}}:chunks_received`);
          expect(all).toContain(keys.forUpload(id).upload);
          expect(await redis.zscore(keys.forUpload(id).indexes.expiry, id)).not.toBeNull();
        }
        for (const index of earlier.legacyIndexes) expect(all).not.toContain(index);
        // (The webhook outbox keeps no TTL: an undelivered event must not vanish.)
        for (const key of all.filter((k) => !k.startsWith(`${prefix}webhooks:`))) {
          expect(await redis.pttl(key), key).toBeGreaterThan(0);
        }
        expect(await redis.smembers(keys.forUpload(uploads.half.id).chunksReceived)).toEqual(
          expect.arrayContaining(['0', '1']),
        );

        const server = await startServerProcess(env);
        // The old outbox is drained by this build: the completion made on the old build is delivered.
        await hook.waitFor(() => hook.of('upload.completed', uploads.done.id).some((d) => d.answered === 200));
        expect(await offsetOn(server, uploads.half.path)).toEqual({ status: 200, offset: 2 * CHUNK });
        expect(await offsetOn(server, uploads.cut.path)).toEqual({ status: 200, offset: CHUNK + 1000 });
        expect(await patchOn(server, uploads.half.path, 2 * CHUNK, data.half.subarray(2 * CHUNK))).toBe(204);
        expect(await patchOn(server, uploads.cut.path, CHUNK + 1000, data.cut.subarray(CHUNK + 1000))).toBe(204);
        for (const name of ['half', 'cut', 'done'] as const) {
          const res = await fetch(`${server.url}${uploads[name].path}`);
          expect(res.status, name).toBe(200);
          expect(Buffer.from(await res.arrayBuffer()).equals(data[name]), name).toBe(true);
        }
        // The uploads list reads the new indexes: all three, completed.
        const list = await fetch(`${server.url}/api/uploads?status=completed`, {
          headers: { Authorization: `Bearer ${TOKEN}` },
        });
        const listed = ((await list.json()) as { uploads: Array<{ id: string }> }).uploads.map((u) => u.id);
        expect(listed.sort()).toEqual(
          Object.values(uploads)
            .map((u) => u.id)
            .sort(),
        );

        // Run again: nothing to move.
        const again = await runUntilExit(env, 30_000, 'src/migrate-redis.ts');
        expect(again.code).toBe(0);
        expect(again.stdout).toContain('0 upload(s) moved');
      } finally {
        redis.disconnect();
        await hook.close();
      }
    }, 120_000);
  });
}

describe('migrate-redis beside a running instance of the old layout', () => {
  it('leaves an upload whose old lock is held, says so (exit 1), and the server still refuses to start; an expired one goes to the sweeper', async () => {
    const prefix = `test-${randomUUID()}:`;
    const env = {
      REDIS_URL: inject('redisUrl'),
      REDIS_KEY_PREFIX: prefix,
      UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'migrate-uploads-')),
      CHUNK_SIZE_BYTES: String(CHUNK),
    };
    const { uploads } = await uploadsOnTheOldBuild(env);
    const redis = createRedisClient(inject('redisUrl'), { commandTimeoutMs: 5000 });
    try {
      // As a running old instance holding the upload mid-PATCH would have it.
      await redis.set(`${prefix}lock:{${uploads.half.id}}`, 'held', 'PX', 60_000);
      // As if its keys had expired: only its entry in the old expiry index is left (its bytes are still on disk).
      const expiredAt = Number(await redis.zscore(`${prefix}uploads:expiry`, uploads.cut.id));
      await redis.del(`${prefix}upload:{${uploads.cut.id}}`, `${prefix}upload:{${uploads.cut.id}}:chunks_received`);
      const migrated = await runUntilExit(env, 30_000, 'src/migrate-redis.ts');
      expect(migrated.code).toBe(1);
      expect(migrated.stdout).toContain('1 upload(s) moved');
      expect(migrated.stdout).toContain('1 expired upload(s) handed to the sweeper');
      const expiry = keysFor({ keyPrefix: prefix }).forUpload(uploads.cut.id).indexes.expiry;
      expect(Number(await redis.zscore(expiry, uploads.cut.id))).toBe(expiredAt);
      expect(migrated.stderr).toContain(uploads.half.id);
      expect(await redis.exists(`${prefix}upload:{${uploads.half.id}}`)).toBe(1);
      expect((await runUntilExit(env)).code).toBe(2);

      await redis.del(`${prefix}lock:{${uploads.half.id}}`);
      const after = await runUntilExit(env, 30_000, 'src/migrate-redis.ts');
      expect(after.code).toBe(0);
      expect(after.stdout).toMatch(/1 upload\(s\) moved .*, 1 already in it/);
    } finally {
      redis.disconnect();
    }
  }, 120_000);
});

describe('migrate-redis when REDIS_BUCKETS changes', () => {
  it('moves uploads to their new buckets, and the webhooks waiting in the old outboxes are still delivered', async () => {
    const hook = await startReceiver();
    hook.answerWith(() => 503);
    const base = {
      REDIS_URL: inject('redisUrl'),
      REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
      UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'migrate-uploads-')),
      CHUNK_SIZE_BYTES: String(CHUNK),
      WEBHOOK_URLS: hook.url,
      WEBHOOK_EVENTS: 'upload.completed',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_RETRY_MAX_MS: '400',
      WEBHOOK_TIMEOUT_MS: '1000',
    };
    try {
      const one = await startServerProcess({ ...base, REDIS_BUCKETS: '1' });
      const data = randomBytes(CHUNK + 5);
      const done = await createUploadOn(one, data.length);
      const half = await createUploadOn(one, 2 * CHUNK);
      expect(await patchOn(one, done.path, 0, data)).toBe(204);
      expect(await patchOn(one, half.path, 0, data.subarray(0, CHUNK))).toBe(204);
      await hook.waitFor(() => hook.of('upload.completed', done.id).length > 0);
      await one.kill('SIGTERM');

      const env = { ...base, REDIS_BUCKETS: '8' };
      const migrated = await runUntilExit(env, 30_000, 'src/migrate-redis.ts');
      expect(migrated.code, migrated.stderr).toBe(0);
      expect(migrated.stdout).toContain('2 upload(s) moved to the layout of 8 bucket(s)');
      hook.answerWith(() => 200);
      const eight = await startServerProcess(env);
      await hook.waitFor(() => hook.of('upload.completed', done.id).some((d) => d.answered === 200));
      expect(await offsetOn(eight, half.path)).toEqual({ status: 200, offset: CHUNK });
      const res = await fetch(`${eight.url}${done.path}`);
      expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
    } finally {
      await hook.close();
    }
  }, 120_000);
});
