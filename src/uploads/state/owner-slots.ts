import { appError } from '../../errors/app-error.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';

/** Longer than creating an upload's record can take after its slot was claimed. */
const CREATION_GRACE_MS = 60_000;

/**
 * OWNER_MAX_CONCURRENT_UPLOADS: an owner's unfinished uploads, counted in a
 * sorted set per owner. An upload counts from its creation until it
 * completes, fails, is deleted or expires. Finished ones are found when the
 * owner next creates one (their records say so, or are gone), so nothing has
 * to remember to release a slot, and a crash cannot leak one.
 */
export class OwnerSlots {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    /** How long an unfinished upload lives (it stops counting then at the latest). */
    private readonly uploadTtlMs: number,
  ) {}

  /** Counts upload `id` for `owner`, or refuses (429) when they are at `limit`. */
  async claim(owner: string, id: string, limit: number, now = Date.now()): Promise<void> {
    const key = this.keys.ownerActive(owner);
    await this.forgetFinished(key, limit, now);
    const until = now + this.uploadTtlMs;
    if ((await this.redis.claimOwnerSlot(key, id, now, until, limit, this.uploadTtlMs + 60_000)) === 1) return;
    throw appError('TOO_MANY_UPLOADS', { limit });
  }

  /** An upload deleted by its owner stops counting at once. */
  async release(owner: string, id: string): Promise<void> {
    await this.redis.zrem(this.keys.ownerActive(owner), id);
  }

  /**
   * Drops the uploads that finished. One whose record does not exist yet may be
   * in the middle of its creation: it is dropped only once it is older than
   * that could take. The set holds at most the largest limit this owner has
   * had; all of it is read, as a lowered limit must see every finished entry.
   */
  private async forgetFinished(key: string, limit: number, now: number): Promise<void> {
    const flat = await this.redis.zrange(key, 0, -1, 'WITHSCORES');
    if (flat.length / 2 < limit) return;
    const entries: { id: string; claimedAt: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      entries.push({ id: flat[i] as string, claimedAt: Number(flat[i + 1]) - this.uploadTtlMs });
    }
    const statuses = await Promise.all(
      entries.map(({ id }) => this.redis.hget(this.keys.forUpload(id).upload, 'status')),
    );
    const finished = entries
      .filter(({ claimedAt }, i) => {
        const status = statuses[i];
        return (
          status === 'completed' || status === 'failed' || (status === null && now - claimedAt > CREATION_GRACE_MS)
        );
      })
      .map(({ id }) => id);
    if (finished.length > 0) await this.redis.zrem(key, ...finished);
  }
}
