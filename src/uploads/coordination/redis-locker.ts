import type { Locker } from '@tus/utils';
import type { Logger } from '../../log.js';
import { listen } from '../../redis/channels.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import { InstanceLiveness } from './instance-liveness.js';
import type { LockerHooks, LockerOptions } from './lock-host.js';
import { RedisLock } from './redis-lock.js';
import type { UploadLock } from './upload-lock.js';

/**
 * @tus/server's Locker, across processes: any number of instances sharing
 * Redis and the upload directory can serve the same upload.
 *
 * - A lock is a key owned by a random token (SET NX PX), released by
 *   compare-and-delete and renewed while held (compare-and-pexpire).
 * - A request waiting for a lock publishes the upload ID on a channel every
 *   instance listens to; the instance holding the lock calls its holder's
 *   `requestRelease`, as @tus/server's MemoryLocker does within one process.
 * - A holder that cannot renew in time has its fence (see `fence`) aborted
 *   `safetyMarginMs` before the lock may expire, and stops writing.
 * - A lock names the instance holding it. A waiter that finds that instance
 *   dead (its liveness key gone: see InstanceLiveness) takes the lock at once,
 *   by compare-and-set, instead of waiting out the TTL; the holder, if it was
 *   only paused, has stopped writing before its key could expire.
 */
export class RedisLocker implements Locker {
  private readonly held = new Map<string, RedisLock>();
  /** Aborted on shutdown: requests still waiting for a lock give up. */
  readonly stopping = new AbortController();
  readonly liveness: InstanceLiveness;

  constructor(
    readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    readonly keys: Keys,
    readonly options: LockerOptions,
    readonly logger: Logger,
    readonly hooks: LockerHooks = {},
  ) {
    this.liveness = new InstanceLiveness(redis, keys, options.instanceTtlMs ?? 1500, logger);
    this.liveness.onExpired(() => {
      for (const lock of this.held.values()) void lock.reassert();
    });
    subscriber.on('error', (error) => logger.debug({ err: error }, 'lock release subscriber connection error'));
  }

  /** Starts listening for release requests from other instances (the liveness key is written with the first lock). */
  async start(): Promise<void> {
    await listen(this.subscriber, this.keys.lockRelease, (id) => this.held.get(id)?.askToRelease());
  }

  async stop(): Promise<void> {
    this.stopWaiting();
    this.subscriber.disconnect();
  }

  /** Requests waiting for a lock give up at once (on shutdown: their connections are being cut). */
  stopWaiting(): void {
    this.stopping.abort();
  }

  /** Every request holding a lock here stops reading its body, and lets go once what it stored is recorded (shutdown). */
  releaseAll(): void {
    for (const lock of this.held.values()) lock.askToRelease();
  }

  newLock(id: string): UploadLock {
    return new RedisLock(this, id);
  }

  /**
   * Takes the lock only if it is free right now, without asking its holder to
   * let go: for background work (the sweeper) that must never cut a request short.
   */
  async tryLock(id: string): Promise<UploadLock | undefined> {
    const lock = new RedisLock(this, id);
    return (await lock.tryOnce()) ? lock : undefined;
  }

  /** Aborted when this process can no longer be sure it holds the lock of upload `id`; undefined if it does not hold it. */
  fence(id: string): AbortSignal | undefined {
    return this.held.get(id)?.fence;
  }

  /** Locks held by this process right now. */
  get heldCount(): number {
    return this.held.size;
  }

  /** @internal */
  track(id: string, lock: RedisLock): void {
    this.held.set(id, lock);
  }

  /** @internal Forgets a lock it held (unless a newer one of this process holds the upload now); false if it held none. */
  untrack(id: string, lock: RedisLock): boolean {
    if (!lock.holding) return false;
    lock.holding = false;
    if (this.held.get(id) === lock) this.held.delete(id);
    return true;
  }
}

export type { UploadLock } from './upload-lock.js';
