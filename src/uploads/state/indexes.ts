import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';

const TTL_REFRESH_MS = 60_000;

/** The TTL of the indexes (and groups): they outlive every upload they list. */
export const indexTtlOf = (uploads: Readonly<{ ttlMs: number; completedRetentionMs: number }>): number =>
  2 * Math.max(uploads.ttlMs, uploads.completedRetentionMs);

/**
 * The sorted sets that find uploads without scanning the keyspace, one set of
 * them per bucket (keys.ts): by when uploads are due for removal (the
 * sweeper), and by their latest activity, all and per status (the uploads
 * list). The scripts that move an upload write its entries (prelude.lua);
 * this keeps their TTLs, longer than any upload they list lives, renewed at
 * most once a minute, and writes what no script does.
 */
export class UploadIndexes {
  private readonly renewed = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly ttlMs: number,
  ) {}

  /**
   * A script has just written the upload's entries in its bucket's indexes
   * (its status index of `status`, if given): the TTL of each key this
   * instance has not renewed for a minute is renewed. Not waited for, and
   * sent after the script on the same connection, so a key it created gets its
   * TTL. (A key emptied and created again within that minute waits for the
   * next renewal; its entries leave it as their uploads go.)
   */
  written(id: string, status?: string): void {
    const indexes = this.keys.forUpload(id).indexes;
    const now = Date.now();
    for (const key of [indexes.expiry, indexes.recent, ...(status ? [indexes.status(status)] : [])]) {
      if (now - (this.renewed.get(key) ?? 0) < TTL_REFRESH_MS) continue;
      this.renewed.set(key, now);
      this.redis.pexpire(key, this.ttlMs).catch(() => {});
    }
  }

  /** The upload is due for removal at `at` (ms). */
  async due(id: string, at: number): Promise<void> {
    await this.redis.zadd(this.keys.forUpload(id).indexes.expiry, at, id);
    this.written(id);
  }

  /** The upload is gone. */
  async forget(id: string): Promise<void> {
    await Promise.all(this.keys.forUpload(id).indexes.all.map((key) => this.redis.zrem(key, id)));
  }
}
