import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import type { UploadStatus } from '../model/upload-record.js';

const STATUSES: readonly UploadStatus[] = ['uploading', 'assembling', 'completed', 'failed'];
const TTL_REFRESH_MS = 60_000;

/**
 * The sorted sets that find uploads without scanning the keyspace: by when
 * they are due for removal (the sweeper), and by their latest activity, all
 * and per status (the uploads list). They are global keys, apart from the
 * uploads' own slots, so they are written next to (not atomically with) the
 * records; readers check each entry against its record. Each carries a TTL
 * longer than any upload it lists lives, renewed at most once a minute.
 */
export class UploadIndexes {
  private readonly renewed = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly ttlMs: number,
  ) {}

  /** The upload is due for removal at `at` (ms). */
  async due(id: string, at: number): Promise<void> {
    await Promise.all([this.redis.zadd(this.keys.expiryIndex, at, id), this.renew(this.keys.expiryIndex)]);
  }

  /** The upload was active at `at` (ms) and is now `status`; it was `previous` (or one of them; undefined: any other). */
  async active(
    id: string,
    status: UploadStatus,
    at: number,
    previous?: UploadStatus | readonly UploadStatus[],
  ): Promise<void> {
    const { recentIndex, statusIndex } = this.keys;
    const writes: Array<Promise<unknown>> = [
      this.redis.zadd(recentIndex, at, id),
      this.redis.zadd(statusIndex(status), at, id),
      this.renew(recentIndex),
      this.renew(statusIndex(status)),
    ];
    const stale = previous === undefined ? STATUSES : typeof previous === 'string' ? [previous] : previous;
    for (const s of stale) if (s !== status) writes.push(this.redis.zrem(statusIndex(s), id));
    await Promise.all(writes);
  }

  /** The upload is gone. */
  async forget(id: string): Promise<void> {
    const { expiryIndex, recentIndex, statusIndex } = this.keys;
    await Promise.all([expiryIndex, recentIndex, ...STATUSES.map(statusIndex)].map((key) => this.redis.zrem(key, id)));
  }

  private async renew(key: string): Promise<void> {
    const now = Date.now();
    if (now - (this.renewed.get(key) ?? 0) < TTL_REFRESH_MS) return;
    this.renewed.set(key, now);
    await this.redis.pexpire(key, this.ttlMs);
  }
}
