import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './client.js';
import { earlierLayouts, type FoundUpload, type Keys } from './keys.js';

type MigrationReport = {
  /** Uploads whose keys were moved to this layout. */
  moved: number;
  /** Uploads already in it. */
  current: number;
  /** Uploads left where they were: a running instance of another layout holds their lock. */
  locked: string[];
  /** Whether the global indexes of the layout before buckets are gone (nothing is left in that layout). */
  legacyIndexesRemoved: boolean;
};

/**
 * Moves every upload kept in an earlier key layout (before buckets, or with
 * another bucket count) to the layout of `keys`: its record, set of received
 * chunks and byte state, each with its TTL, and its entries in its bucket's
 * indexes, rebuilt from its record. Run while no instance of the earlier
 * layout runs (docs/operations.md): an upload whose lock is held is left, and
 * reported. Safe to run again, and to interrupt: an upload's old keys go only
 * once its new ones are written, and a run finding both writes the new again.
 */
export async function migrateKeys(redis: RedisClient, keys: Keys, indexTtlMs: number): Promise<MigrationReport> {
  const earlier = earlierLayouts(keys.prefix);
  const report: MigrationReport = { moved: 0, current: 0, locked: [], legacyIndexesRemoved: false };
  const seen = new Set<string>();
  const written = new Set<string>();
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', earlier.pattern, 'COUNT', 1000);
      cursor = next;
      for (const key of found) {
        const upload = earlier.uploadOf(key);
        if (!upload || seen.has(upload.upload)) continue;
        seen.add(upload.upload);
        const target = keys.forUpload(upload.id);
        if (target.upload === upload.upload) {
          report.current++;
          continue;
        }
        if ((await redis.exists(upload.lock)) === 1) {
          report.locked.push(upload.id);
          continue;
        }
        await moveUpload(redis, upload, target);
        seen.add(target.upload);
        for (const index of target.indexes.all) written.add(index);
        report.moved++;
      }
    } while (cursor !== '0');
  }
  await Promise.all([...written].map((index) => redis.pexpire(index, indexTtlMs)));
  if (report.locked.length === 0) {
    await Promise.all(earlier.legacyIndexes.map((index) => redis.del(index)));
    report.legacyIndexesRemoved = true;
  }
  return report;
}

/** Whether Redis may hold uploads in the layout before buckets (its global expiry index exists). */
export async function holdsLegacyLayout(redis: RedisClient, prefix: string): Promise<boolean> {
  const [expiry] = earlierLayouts(prefix).legacyIndexes;
  return (await redis.exists(expiry as string)) === 1;
}

async function moveUpload(redis: RedisClient, from: FoundUpload, to: ReturnType<Keys['forUpload']>): Promise<void> {
  const pairs: Array<[string, string]> = [
    [from.upload, to.upload],
    [from.chunksReceived, to.chunksReceived],
    [from.bytes, to.bytes],
  ];
  for (const [source, target] of pairs) {
    const [payload, ttl] = await Promise.all([redis.dumpBuffer(source), redis.pttl(source)]);
    // Gone (or expiring) meanwhile: nothing to move. PTTL -1 (no TTL) restores as none.
    if (payload === null || ttl === -2) continue;
    await redis.restore(target, Math.max(ttl, 0), payload, 'REPLACE');
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
}
