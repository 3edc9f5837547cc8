import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';

/**
 * The Idempotency-Key of creations (draft-ietf-httpapi-idempotency-key-header,
 * as tusd's open work #1366 applies it to tus): a creation retried after its
 * reply was lost names the upload the first one made, per owner, for as long
 * as that upload may live.
 */
export class IdempotencyKeys {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    /** How long a key names its upload: as long as the upload may live, unfinished then completed. */
    private readonly ttlMs: number,
  ) {}

  /**
   * Claims `key` of `owner` for the new upload `id`, in one command (SET NX
   * GET); returns the upload an earlier creation with it made, if any. A claim
   * resent after its reply was lost finds `id` itself: that is no earlier one.
   */
  async claim(owner: string | undefined, key: string, id: string): Promise<string | undefined> {
    const earlier = await this.redis.set(this.keys.idempotency(owner, key), id, 'PX', this.ttlMs, 'NX', 'GET');
    return earlier === null || earlier === id ? undefined : earlier;
  }

  /** Points `key` at the new upload `id`, when the upload it named is gone. */
  async replace(owner: string | undefined, key: string, id: string): Promise<void> {
    await this.redis.set(this.keys.idempotency(owner, key), id, 'PX', this.ttlMs);
  }

  /** Lets go of `key` when the creation of `id` was refused (compare-and-delete: a key another claim holds stays). */
  async release(owner: string | undefined, key: string, id: string): Promise<void> {
    await this.redis.releaseLock(this.keys.idempotency(owner, key), id);
  }
}
