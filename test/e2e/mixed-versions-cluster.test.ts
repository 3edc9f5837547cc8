import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisClient, type RedisClient } from '../../src/redis/client.js';
import { offsetOn, patchOn } from '../helpers/instances.js';
import { olderBuild } from '../helpers/old-build.js';
import { openPatch } from '../helpers/raw-patch.js';
import { type RedisClusterProcesses, startRedisCluster } from '../helpers/redis-cluster.js';
import {
  createUploadOn,
  killAllServerProcesses,
  type ServerProcess,
  startServerProcess,
} from '../helpers/server-process.js';
import { openEvents } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

/** The last build whose live events and lock-release requests are classic pub/sub on a cluster too. */
const BEFORE_SHARDED = 'cfc0d60';
const CHUNK = 64 * 1024;

let cluster: RedisClusterProcesses;
let oldDir: string;
let env: Record<string, string>;
let redis: RedisClient;
beforeAll(async () => {
  const root = mkdtempSync(path.join(inject('tmpRoot'), 'mixed-cluster-'));
  [cluster, oldDir] = await Promise.all([
    startRedisCluster(path.join(root, 'cluster'), 3, 0),
    olderBuild(BEFORE_SHARDED, path.join(root, 'src-tree')),
  ]);
  env = {
    REDIS_URL: cluster.url,
    UPLOAD_DIR: mkdtempSync(path.join(root, 'uploads-')),
    REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
    CHUNK_SIZE_BYTES: String(CHUNK),
    LOCK_TTL_MS: '3000',
  };
  redis = createRedisClient(cluster.url, { commandTimeoutMs: 2000 });
}, 90_000);
afterEach(() => killAllServerProcesses());
afterAll(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

/**
 * Upload `id`'s PATCH on `holder`, open once its first chunk is recorded (so the holder has the lock, and keeps it
 * until asked).
 */
async function holding(holder: ServerProcess, upload: { path: string; id: string }, size: number) {
  const patch = openPatch(holder.url, upload.path, 0, size);
  await patch.write(randomBytes(CHUNK));
  const record = `${env.REDIS_KEY_PREFIX}upload:{${upload.id}}`;
  await waitFor(async () => Number(await redis.hget(record, 'offset')) >= CHUNK, { what: 'the first chunk recorded' });
  return patch;
}

/**
 * A rolling upgrade on a Redis Cluster: instances of the build before sharded
 * pub/sub (classic channels only) beside this build's (sharded channels, and
 * the classic ones heard too, lock-release requests published on both).
 */
describe(`this build beside the one before sharded pub/sub (${BEFORE_SHARDED}), on a cluster`, () => {
  it("hears the older build's live events: an upload written there shows on a stream here", async () => {
    const [old, current] = await Promise.all([startServerProcess(env, { cwd: oldDir }), startServerProcess(env)]);
    const upload = await createUploadOn(old, 2 * CHUNK);
    const events = openEvents(`${current.url}/api/uploads/${upload.id}/events`);
    await events.waitFor((e) => e.event === 'snapshot');
    expect(await patchOn(old, upload.path, 0, randomBytes(2 * CHUNK))).toBe(204);
    const done = await events.waitFor((e) => e.event === 'completed');
    expect(done.data).toMatchObject({ id: upload.id, upload: { status: 'completed' } });
    await events.close();
  });

  it("each asks the other's holder to let go, and is heard: the holder's PATCH ends 423", async () => {
    const [old, current] = await Promise.all([startServerProcess(env, { cwd: oldDir }), startServerProcess(env)]);
    for (const [holder, asker] of [
      [old, current],
      [current, old],
    ] as const) {
      const upload = await createUploadOn(holder, 8 * CHUNK);
      const patch = await holding(holder, upload, 8 * CHUNK);
      // HEAD takes the upload's lock: the asker gets it only once the holder heard the request and let go.
      expect((await offsetOn(asker, upload.path)).status).toBe(200);
      expect((await patch.response).status).toBe(423);
    }
  });
});
