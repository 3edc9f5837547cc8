import { randomUUID } from 'node:crypto';
import type { Lock, Locker, RequestRelease } from '@tus/utils';
import { appError } from '../../errors/app-error.js';
import type { Logger } from '../../log.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';

export type LockerOptions = Readonly<{
  /** Expiry of a lock key; the holder renews it every fifth of this. */
  ttlMs: number;
  /** How long a request waits for a lock before it is answered 423. */
  acquireTimeoutMs: number;
  /**
   * A holder that could not renew its lock stops writing this long before the
   * lock may expire, so that nobody else can start while it still writes.
   */
  safetyMarginMs: number;
}>;

/**
 * The options the server runs with: renewals every fifth of the TTL and a
 * margin of a fifth, so three renewals in a row may fail before a holder stops.
 */
export const lockerOptions = (ttlMs: number, acquireTimeoutMs: number): LockerOptions => ({
  ttlMs,
  acquireTimeoutMs,
  safetyMarginMs: ttlMs / 5,
});

export type LockerHooks = Readonly<{
  /**
   * A read issued in the same tick as each SET that tries for lock `id`, so
   * that it shares that round trip (undefined: nothing to read). The read of
   * the attempt that wins is what the holder sees: see `takeRead`.
   */
  readAlongside?: (id: string) => Promise<Record<string, string>> | undefined;
  /** A lock was taken after `waitedMs`; `contended` if it was held by another request first. */
  acquired?: (waitedMs: number, contended: boolean) => void;
}>;

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
  /** Aborted on shutdown: requests still waiting for a lock give up. */
  readonly stopping = new AbortController();

  constructor(
    readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    readonly keys: Keys,
    readonly options: LockerOptions,
    readonly logger: Logger,
    readonly hooks: LockerHooks = {},
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
    this.stopWaiting();
    this.subscriber.disconnect();
  }

  /** Requests waiting for a lock give up at once (on shutdown: their connections are being cut). */
  stopWaiting(): void {
    this.stopping.abort();
  }

  newLock(id: string): Lock {
    return new RedisLock(this, id);
  }

  /**
   * Takes the lock only if it is free right now, without asking its holder to
   * let go: for background work (the sweeper) that must never cut a request short.
   */
  async tryLock(id: string): Promise<Lock | undefined> {
    const lock = new RedisLock(this, id);
    return (await lock.tryOnce()) ? lock : undefined;
  }

  /** Aborted when this process can no longer be sure it holds the lock of upload `id`; undefined if it does not hold it. */
  fence(id: string): AbortSignal | undefined {
    return this.held.get(id)?.fence;
  }

  /**
   * What was read together with the lock this process holds on `id` (see
   * LockerHooks.readAlongside), once: a later read must go to Redis, since
   * the holder may have changed the upload since.
   */
  takeRead(id: string): Promise<Record<string, string>> | undefined {
    return this.held.get(id)?.takeRead();
  }

  /** Locks held by this process right now. */
  get heldCount(): number {
    return this.held.size;
  }

  /** @internal */
  track(id: string, lock: RedisLock): void {
    this.held.set(id, lock);
  }

  /** @internal Forgets a lock, unless a newer one of this process holds the upload now. */
  untrack(id: string, lock: RedisLock): void {
    if (this.held.get(id) === lock) this.held.delete(id);
  }
}

/** Waits `ms`, or less if a signal aborts. (Not AbortSignal.any: on a long-lived signal it has leaked, nodejs/node#48951.) */
const sleep = (ms: number, ...signals: AbortSignal[]) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    for (const signal of signals) signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', done);
      resolve();
    }
  });

/** One upload's lock (@tus/server's Lock). */
export type UploadLock = Lock;

class RedisLock implements Lock {
  private readonly token = randomUUID();
  private readonly key: string;
  private controller = new AbortController();
  private requestRelease: RequestRelease | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private read: Promise<Record<string, string>> | undefined;

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
    const { redis, keys, options, stopping } = this.locker;
    const deadline = Date.now() + options.acquireTimeoutMs;
    const started = Date.now();
    let nudgedAt = 0;
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted || stopping.signal.aborted) throw appError('UPLOAD_LOCKED');
      if (await this.tryOnce(requestRelease)) {
        this.locker.hooks.acquired?.(Date.now() - started, attempt > 0);
        return;
      }
      if (Date.now() - nudgedAt >= 500) {
        nudgedAt = Date.now();
        await redis.publish(keys.lockReleaseChannel, this.id);
      }
      if (Date.now() >= deadline) throw appError('UPLOAD_LOCKED');
      await sleep(Math.min(20 * 2 ** attempt, 200, deadline - Date.now()), signal, stopping.signal);
    }
  }

  /**
   * One SET NX. A reply of nil may also mean that the SET ran but its reply was
   * lost, and ioredis resent it: then the key holds our token and the lock is
   * ours. A SET that timed out may still run late: a release by token queued
   * behind it on the same connection undoes it, so no key nobody holds blocks
   * the upload for a whole TTL.
   */
  async tryOnce(requestRelease: RequestRelease = () => {}): Promise<boolean> {
    const { redis, options } = this.locker;
    const sentAt = Date.now();
    let reply: string | null;
    let read: Promise<Record<string, string>> | undefined;
    try {
      const setting = redis.set(this.key, this.token, 'PX', options.ttlMs, 'NX');
      read = this.locker.hooks.readAlongside?.(this.id);
      read?.catch(() => {}); // whoever takes it sees the error; untaken, it is dropped
      reply = await setting;
    } catch (error) {
      redis.releaseLock(this.key, this.token).catch(() => {});
      throw error;
    }
    if (reply !== 'OK' && (await redis.get(this.key)) !== this.token) return false;
    // Issued after our SET on the same connection, the read sees the upload as its holder does.
    this.read = read;
    this.hold(sentAt, requestRelease);
    return true;
  }

  takeRead(): Promise<Record<string, string>> | undefined {
    const read = this.read;
    this.read = undefined;
    return read;
  }

  async unlock(): Promise<void> {
    this.read = undefined;
    this.stopTimers();
    this.locker.untrack(this.id, this);
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
    // Every fifth of the TTL: with a margin of a fifth, three renewals in a row may fail before the fence fires.
    this.renewTimer = setInterval(() => void this.renew(), Math.max(10, Math.floor(ttlMs / 5)));
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
    this.controller.abort(appError('LOCK_LOST'));
    this.askToRelease();
  }

  private stopTimers(): void {
    clearInterval(this.renewTimer);
    clearTimeout(this.fenceTimer);
  }
}
