import { randomUUID } from 'node:crypto';
import type { Lock, Locker, RequestRelease } from '@tus/utils';
import type { Redis } from 'ioredis';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Keys } from '../redis/keys.js';

export type LockerOptions = Readonly<{
  /** Expiry of a lock key; the holder renews it every third of this. */
  ttlMs: number;
  /** How long a request waits for a lock before it is answered 423. */
  acquireTimeoutMs: number;
  /**
   * A holder that could not renew its lock stops writing this long before the
   * lock may expire, so that nobody else can start while it still writes.
   */
  safetyMarginMs: number;
}>;

export const uploadLocked = () =>
  new AppError('UPLOAD_LOCKED', 423, 'The upload is busy with another request; retry shortly');

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
 */
export class RedisLocker implements Locker {
  private readonly held = new Map<string, RedisLock>();

  constructor(
    readonly redis: Redis,
    private readonly subscriber: Redis,
    readonly keys: Keys,
    readonly options: LockerOptions,
    readonly logger: Logger,
  ) {
    subscriber.on('error', (error) => logger.debug({ err: error }, 'lock release subscriber connection error'));
    subscriber.on('message', (channel: string, id: string) => {
      if (channel === keys.lockReleaseChannel) this.held.get(id)?.askToRelease();
    });
  }

  /** Starts listening for release requests from other instances. */
  async start(): Promise<void> {
    if (this.subscriber.status === 'wait') await this.subscriber.connect();
    await this.subscriber.subscribe(this.keys.lockReleaseChannel);
  }

  async stop(): Promise<void> {
    this.subscriber.disconnect();
  }

  newLock(id: string): Lock {
    return new RedisLock(this, id);
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
  track(id: string, lock: RedisLock | undefined): void {
    if (lock) this.held.set(id, lock);
    else this.held.delete(id);
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

class RedisLock implements Lock {
  private readonly token = randomUUID();
  private readonly key: string;
  private controller = new AbortController();
  private requestRelease: RequestRelease | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly locker: RedisLocker,
    private readonly id: string,
  ) {
    this.key = locker.keys.lock(id);
  }

  get fence(): AbortSignal {
    return this.controller.signal;
  }

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const { redis, keys, options } = this.locker;
    const deadline = Date.now() + options.acquireTimeoutMs;
    let nudgedAt = 0;
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) throw uploadLocked();
      const sentAt = Date.now();
      if ((await redis.set(this.key, this.token, 'PX', options.ttlMs, 'NX')) === 'OK') {
        this.hold(sentAt, requestRelease);
        return;
      }
      if (Date.now() - nudgedAt >= 500) {
        nudgedAt = Date.now();
        await redis.publish(keys.lockReleaseChannel, this.id);
      }
      if (Date.now() >= deadline) throw uploadLocked();
      await sleep(Math.min(20 * 2 ** attempt, 200, deadline - Date.now()), signal);
    }
  }

  async unlock(): Promise<void> {
    this.stopTimers();
    this.locker.track(this.id, undefined);
    try {
      await this.locker.redis.releaseLock(this.key, this.token);
    } catch (error) {
      // The key expires by itself within ttlMs.
      this.locker.logger.warn({ err: error, uploadId: this.id }, 'could not release an upload lock');
    }
  }

  /** Another request, in this process or another, wants this lock. */
  askToRelease(): void {
    void this.requestRelease?.();
  }

  private hold(sentAt: number, requestRelease: RequestRelease): void {
    this.controller = new AbortController();
    this.requestRelease = requestRelease;
    this.locker.track(this.id, this);
    this.armFence(sentAt);
    const { ttlMs } = this.locker.options;
    this.renewTimer = setInterval(() => void this.renew(), Math.max(10, Math.floor(ttlMs / 3)));
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    const sentAt = Date.now();
    try {
      const renewed = await this.locker.redis.renewLock(this.key, this.token, this.locker.options.ttlMs);
      if (renewed === 1) this.armFence(sentAt);
      else this.lose('the lock key was taken over or expired');
    } catch (error) {
      // Not fatal yet: the fence fires if no renewal succeeds in time.
      this.locker.logger.warn({ err: error, uploadId: this.id }, 'could not renew an upload lock');
    }
  }

  /** The lock is ours until sentAt + ttl at the latest; stop writing a safety margin before that. */
  private armFence(sentAt: number): void {
    const { ttlMs, safetyMarginMs } = this.locker.options;
    clearTimeout(this.fenceTimer);
    const delay = Math.max(0, sentAt + ttlMs - safetyMarginMs - Date.now());
    this.fenceTimer = setTimeout(() => this.lose('the lock could not be renewed in time'), delay);
    this.fenceTimer.unref();
  }

  private lose(reason: string): void {
    if (this.controller.signal.aborted) return;
    this.locker.logger.warn({ uploadId: this.id, reason }, 'lost an upload lock: stopping its writer');
    this.stopTimers();
    this.controller.abort(new AppError('UPLOAD_LOCKED', 423, 'The upload lock was lost; retry shortly'));
    this.askToRelease();
  }

  private stopTimers(): void {
    clearInterval(this.renewTimer);
    clearTimeout(this.fenceTimer);
  }
}
