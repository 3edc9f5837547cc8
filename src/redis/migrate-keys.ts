import { randomUUID } from 'node:crypto';
import type { RedisClient } from './client.js';
import { earlierLayouts, type FoundUpload, type Keys } from './keys.js';
import { scanAll } from './scan.js';

type MigrationReport = {
  /** Uploads whose keys were moved to this layout. */
  moved: number;
  /** Uploads already in it. */
  current: number;
  /** Uploads left in an earlier layout: their lock was held, or they were made during the run. */
  left: string[];
  /** Index entries of uploads whose keys had expired, moved to their bucket's expiry index (the sweeper removes their bytes). */
  expiredEntries: number;
};

/** How long the migration holds an upload's old lock while it moves it. */
const MOVE_LOCK_MS = 30_000;

/**
 * Moves every upload kept in an earlier key layout (before buckets, or with
 * another bucket count) to the layout of `keys`: its record, set of received
 * chunks and byte state, each with its expiry, under its old lock; then its
 * entries in its bucket's indexes, rebuilt from its record. The earlier
 * layouts' indexes go last, once nothing they list is left behind; entries of
 * uploads whose keys have expired move to the new expiry indexes. Run while
 * no instance of another layout runs (docs/operations.md): an upload whose
 * lock is held, or made during the run, is left, and reported. Safe to run
 * again and to interrupt: an upload's old keys go only once its new ones are
 * written, and a new key found already written is kept, never overwritten.
 */
export async function migrateKeys(redis: RedisClient, keys: Keys, indexTtlMs: number): Promise<MigrationReport> {
  const earlier = earlierLayouts(keys.prefix);
  const report: MigrationReport = { moved: 0, current: 0, left: [], expiredEntries: 0 };
  const seen = new Set<string>();
  const written = new Set<string>();
  for await (const key of scanAll(redis, earlier.pattern)) {
    const upload = earlier.uploadOf(key);
    if (!upload || seen.has(upload.upload)) continue;
    seen.add(upload.upload);
    const target = keys.forUpload(upload.id);
    if (target.upload === upload.upload) {
      report.current++;
      continue;
    }
    if (!(await moveUpload(redis, upload, target))) {
      report.left.push(upload.id);
      continue;
    }
    seen.add(target.upload);
    for (const index of target.indexes.all) written.add(index);
    report.moved++;
  }
  const current = new Set(keys.indexes.flatMap((index) => index.all));
  const foreign: string[] = [];
  for await (const key of scanAll(redis, earlier.indexPattern)) {
    const index = earlier.indexOf(key);
    if (!index || current.has(key) || foreign.includes(key)) continue;
    foreign.push(key);
    if (!index.expiry) continue;
    // Every upload moved left this index: what it still lists was not moved, or has expired.
    for await (const [id, score] of zscanAll(redis, key)) {
      const old = earlier.uploadIn(index.tag, id);
      if ((await redis.exists(old.upload, old.chunksReceived, old.bytes)) > 0) {
        if (!report.left.includes(id)) report.left.push(id);
      } else {
        const expiry = keys.forUpload(id).indexes.expiry;
        await redis.zadd(expiry, score, id);
        written.add(expiry);
        report.expiredEntries++;
      }
    }
  }
  await Promise.all([...written].map((index) => redis.pexpire(index, indexTtlMs)));
  // While something is left, the old indexes stay: this build refuses to start, and a run again finds it.
  if (report.left.length === 0) await Promise.all(foreign.map((key) => redis.del(key)));
  return report;
}

/** Whether Redis may hold uploads in the layout before buckets (its global expiry index exists). */
export async function holdsLegacyLayout(redis: RedisClient, prefix: string): Promise<boolean> {
  const [expiry] = earlierLayouts(prefix).legacyIndexes;
  return (await redis.exists(expiry as string)) === 1;
}

/** Moves one upload under its old lock; false when that lock is held (an instance is writing it). */
async function moveUpload(redis: RedisClient, from: FoundUpload, to: ReturnType<Keys['forUpload']>): Promise<boolean> {
  const token = `migrate-redis-${randomUUID()}`;
  if ((await redis.set(from.lock, token, 'PX', MOVE_LOCK_MS, 'NX')) !== 'OK') return false;
  try {
    const pairs: Array<[string, string]> = [
      [from.upload, to.upload],
      [from.chunksReceived, to.chunksReceived],
      [from.bytes, to.bytes],
    ];
    for (const [source, target] of pairs) {
      // The expiry as an instant (-1: none, -2: gone meanwhile), restored as that instant: no TTL is rounded away.
      const [payload, expiresAt] = await Promise.all([redis.dumpBuffer(source), redis.pexpiretime(source)]);
      if (payload === null || expiresAt === -2) continue;
      await redis.restore(target, Math.max(expiresAt, 0), payload, 'ABSTTL').catch((error: Error) => {
        // Written by an earlier run (or since): the copy there is kept, never overwritten by this older one.
        if (!/BUSYKEY/.test(error.message)) throw error;
      });
    }
    const [status, expiresAt, updatedAt] = await redis.hmget(to.upload, 'status', 'expiresAt', 'updatedAt');
    if (status && expiresAt) {
      const at = updatedAt ?? expiresAt;
      await Promise.all([
        redis.zadd(to.indexes.expiry, expiresAt, from.id),
        redis.zadd(to.indexes.recent, at, from.id),
        redis.zadd(to.indexes.status(status), at, from.id),
      ]);
    }
    await Promise.all([
      redis.del(from.upload),
      redis.del(from.chunksReceived),
      redis.del(from.bytes),
      ...from.indexes.map((index) => redis.zrem(index, from.id)),
    ]);
    return true;
  } finally {
    await redis.releaseLock(from.lock, token);
  }
}

/** Every member of a sorted set, with its score (ZSCAN). */
async function* zscanAll(redis: RedisClient, key: string): AsyncGenerator<[string, number]> {
  let cursor = '0';
  do {
    const [next, flat] = await redis.zscan(key, cursor, 'COUNT', 1000);
    cursor = next;
    for (let i = 0; i < flat.length; i += 2) yield [flat[i] as string, Number(flat[i + 1])];
  } while (cursor !== '0');
}
