import type { RequestRelease } from '@tus/utils';
import { appError } from '../../errors/app-error.js';
import { publish } from '../../redis/channels.js';
import { holderOf } from './instance-liveness.js';
import type { LockHost } from './lock-host.js';
import { Lease, sleep } from './lock-lease.js';
import type { UploadLock } from './upload-lock.js';

/**
 * One upload's lock: a key holding this request's token, which names the
 * instance and epoch that hold it (see InstanceLiveness).
 */
export class RedisLock implements UploadLock {
  /** The token of the attempt under way. */
  private token = '';
  private epoch = -1;
  private readonly key: string;
  private readonly lease: Lease;
  private requestRelease: RequestRelease | undefined;
  private read: Promise<Record<string, string>> | undefined;

  constructor(
    private readonly locker: LockHost<RedisLock>,
    private readonly id: string,
  ) {
    this.key = locker.keys.lock(id);
    this.lease = new Lease(locker, this.key, id, () => this.askToRelease());
  }

  get fence(): AbortSignal {
    return this.lease.fence;
  }

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const { redis, keys, options, stopping, liveness } = this.locker;
    const deadline = Date.now() + options.acquireTimeoutMs;
    const started = Date.now();
    let nudgedAt = 0;
    // This instance vouches for the lock from before its first attempt: its key is written first (on one Redis in
    // the same round trip as that attempt, on a cluster before it), so no waiter can find the lock unvouched.
    const vouched = liveness.hold();
    try {
      await this.beforeAttempt(vouched);
      for (let attempt = 0; ; attempt++) {
        if (signal.aborted || stopping.signal.aborted) throw appError('UPLOAD_LOCKED');
        const set = this.trySet(requestRelease);
        set.catch(() => {});
        if (attempt === 0) await this.vouchedFor(vouched, set);
        if ((await set) || (await this.takeOverFromTheDead(requestRelease))) {
          this.locker.hooks.acquired?.(Date.now() - started, attempt > 0);
          return;
        }
        if (Date.now() - nudgedAt >= 500) {
          nudgedAt = Date.now();
          await publish(redis, keys.lockRelease, this.id, this.id);
        }
        if (Date.now() >= deadline) throw appError('UPLOAD_LOCKED');
        await sleep(Math.min(20 * 2 ** attempt, 200, deadline - Date.now()), signal, stopping.signal);
      }
    } catch (error) {
      await liveness.release();
      throw error;
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
    const { liveness } = this.locker;
    const vouched = liveness.hold();
    try {
      await this.beforeAttempt(vouched);
      const set = this.trySet(requestRelease);
      set.catch(() => {});
      await this.vouchedFor(vouched, set);
      if (await set) return true;
    } catch (error) {
      await liveness.release();
      throw error;
    }
    await liveness.release();
    return false;
  }

  /**
   * On a Redis Cluster, waits for this instance's key before the first
   * attempt: its key and the lock are in different slots, sent to their nodes
   * in no order, and a waiter that read the lock before the key had landed
   * would take the lock from a live holder. One Redis keeps them in order on
   * one connection, so there the key goes out with the attempt.
   */
  private async beforeAttempt(vouched: Promise<void>): Promise<void> {
    if (this.locker.redis.isCluster) await vouched;
  }

  /**
   * Waits for this instance's key (written before the attempt `set`). If it
   * could not be written, a lock the attempt took is let go again, unvouched.
   */
  private async vouchedFor(vouched: Promise<void>, set: Promise<boolean>): Promise<void> {
    try {
      await vouched;
    } catch (error) {
      if (await set.catch(() => false)) {
        this.lease.end();
        this.locker.untrack(this.id, this);
        await this.locker.redis.releaseLock(this.key, this.token).catch(() => {});
      }
      throw error;
    }
  }

  private async trySet(requestRelease: RequestRelease): Promise<boolean> {
    const { redis, options, liveness } = this.locker;
    this.epoch = liveness.currentEpoch;
    this.token = liveness.token();
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

  /**
   * The lock's holder, named in it, is an instance whose liveness key is gone
   * (it died, or was paused past its TTL, and has stopped writing): the lock
   * is taken over by compare-and-set, at once. A lock of this very instance
   * from an epoch it has left is as dead. A lock that names no instance (an
   * older server's) is waited out.
   */
  private async takeOverFromTheDead(requestRelease: RequestRelease): Promise<boolean> {
    const { redis, options, liveness } = this.locker;
    const seen = await redis.get(this.key);
    const holder = seen ? holderOf(seen) : undefined;
    if (!seen || !holder || !(await liveness.isDead(holder))) return false;
    this.epoch = liveness.currentEpoch;
    this.token = liveness.token();
    const sentAt = Date.now();
    if ((await redis.takeOverLock(this.key, seen, this.token, options.ttlMs)) !== 1) return false;
    this.locker.logger.warn(
      { uploadId: this.id, from: holder.instance },
      'took over the lock of an instance taken for dead',
    );
    this.locker.hooks.tookOver?.();
    this.hold(sentAt, requestRelease);
    return true;
  }

  valid(): boolean {
    return this.lease.valid();
  }

  writable(): Promise<void> | undefined {
    return this.lease.writable();
  }

  /** This instance's liveness key had expired: the lock (of an older epoch) is kept only if nobody took it over. */
  reassert(): Promise<void> {
    return this.lease.reassert();
  }

  takeRead(): Promise<Record<string, string>> | undefined {
    const read = this.read;
    this.read = undefined;
    return read;
  }

  async unlock(): Promise<void> {
    this.read = undefined;
    this.lease.end();
    if (!this.locker.untrack(this.id, this)) return;
    // Sent together (one round trip): the lock's release first, then, if it was the last, this instance's key.
    const released = this.locker.redis.releaseLock(this.key, this.lease.token).catch((error) => {
      // The key expires by itself within ttlMs, or is taken over: this instance no longer vouches for it.
      this.locker.logger.warn({ err: error, uploadId: this.id }, 'could not release an upload lock');
    });
    await Promise.all([released, this.locker.liveness.release()]);
  }

  /** Whether another request asked for this lock while it was held. */
  asked = false;

  private askedListeners: Array<() => void> = [];

  /** Calls `listener` when another request asks for this lock (at once if one has); returns its removal. */
  onAsked(listener: () => void): () => void {
    if (this.asked) {
      listener();
      return () => {};
    }
    this.askedListeners.push(listener);
    return () => {
      this.askedListeners = this.askedListeners.filter((l) => l !== listener);
    };
  }

  /** Another request, in this process or another, wants this lock. */
  askToRelease(): void {
    this.asked = true;
    const listeners = this.askedListeners;
    this.askedListeners = [];
    for (const listener of listeners) listener();
    void this.requestRelease?.();
  }

  /** Whether this lock is held (tracked by its locker): set when taken, cleared when released. */
  holding = false;

  private hold(sentAt: number, requestRelease: RequestRelease): void {
    this.holding = true;
    this.asked = false;
    this.askedListeners = [];
    this.requestRelease = requestRelease;
    this.locker.track(this.id, this);
    this.lease.begin(this.token, this.epoch, sentAt);
  }
}
