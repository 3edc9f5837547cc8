import { appError } from '../../errors/app-error.js';
import type { LockHost } from './lock-host.js';

/** Waits `ms`, or less if a signal aborts. (Not AbortSignal.any: on a long-lived signal it has leaked, nodejs/node#48951.) */
export const sleep = (ms: number, ...signals: AbortSignal[]) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    for (const signal of signals) signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', done);
      resolve();
    }
  });

/** How often a writer waiting out a Redis stall looks whether it may write again. */
const STALL_POLL_MS = 20;

/**
 * A lock while it is held: its token in Redis (naming this instance and its
 * epoch), renewed every fifth of the TTL, and the fence that stops its writer.
 *
 * A writer may write while the lease is certain: renewed in time, and this
 * instance counted alive (its liveness confirmed). When Redis stalls, neither
 * can be confirmed: the writer then waits (back-pressure, not failure) until
 * they are again, and fails with 503 only if that takes longer than
 * `stallTimeoutMs`. It fails with LOCK_LOST only when the lock is no longer
 * its own: taken over while this instance's liveness key had expired, or not
 * renewed before it could expire.
 */
export class Lease {
  token = '';
  epoch = -1;
  private validUntil = 0;
  private controller = new AbortController();
  private renewTimer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private waiting: Promise<void> | undefined;
  /** Set by `end`: a renewal or reassertion still in flight then changes nothing. */
  private ended = false;

  constructor(
    private readonly host: LockHost<unknown>,
    private readonly key: string,
    private readonly id: string,
    /** Called when the lease is lost: the holder's reading stops. */
    private readonly onLost: () => void,
  ) {}

  /** Aborted once this process may no longer write the upload: the lock is lost. */
  get fence(): AbortSignal {
    return this.controller.signal;
  }

  /** The lock was taken with `token` (in `epoch`) by a SET sent at `sentAt`. */
  begin(token: string, epoch: number, sentAt: number): void {
    this.token = token;
    this.epoch = epoch;
    this.ended = false;
    this.controller = new AbortController();
    this.armFence(sentAt);
    const { ttlMs } = this.host.options;
    // Every fifth of the TTL: with a margin of a fifth, three renewals in a row may fail before the fence fires.
    this.renewTimer = setInterval(() => void this.renew(), Math.max(10, Math.floor(ttlMs / 5)));
    this.renewTimer.unref();
  }

  end(): void {
    this.ended = true;
    clearInterval(this.renewTimer);
    clearTimeout(this.fenceTimer);
  }

  /** Held, fenced by nothing, and by an instance nobody can have taken for dead. */
  valid(): boolean {
    return !this.fence.aborted && Date.now() < this.validUntil && this.host.liveness.alive(this.epoch);
  }

  /**
   * Undefined when the holder may write now. Otherwise a promise that resolves
   * once it may again (Redis answered, and the lease and this instance's
   * liveness are confirmed), or rejects: with LOCK_LOST when the lock is lost,
   * with STATE_STORE_UNAVAILABLE (503) when that takes longer than `stallTimeoutMs`.
   */
  writable(): Promise<void> | undefined {
    if (this.valid()) return undefined;
    if (this.fence.aborted) return Promise.reject(this.fence.reason);
    this.waiting ??= this.waitForConfirmation().finally(() => {
      this.waiting = undefined;
    });
    return this.waiting;
  }

  private async waitForConfirmation(): Promise<void> {
    const until = Date.now() + (this.host.options.stallTimeoutMs ?? 2000);
    while (!this.valid()) {
      if (this.fence.aborted) throw this.fence.reason;
      if (Date.now() >= until) throw appError('STATE_STORE_UNAVAILABLE');
      await sleep(STALL_POLL_MS, this.fence);
    }
  }

  /**
   * This instance's liveness key had expired (Redis stalled longer than its
   * TTL), and it goes on in a new epoch: others may have taken it for dead, and
   * taken this lock (of an older epoch) over. The lock
   * is kept if it is still this one's, by compare-and-set to a token of the new
   * epoch: a takeover (a compare-and-set from the token it saw) and this cannot
   * both succeed, and a waiter that reads the lock after it finds this instance
   * alive. If Redis cannot be asked, the writer waits, and gets 503 in time.
   */
  async reassert(): Promise<void> {
    const { redis, liveness, options, logger } = this.host;
    const epoch = liveness.currentEpoch;
    if (this.epoch === epoch || this.epoch === -1 || this.fence.aborted || this.ended) return;
    const token = liveness.token();
    const sentAt = Date.now();
    try {
      const kept = (await redis.takeOverLock(this.key, this.token, token, options.ttlMs)) === 1;
      // Released meanwhile: the release, sent after this compare-and-set, named the old token and found the new
      // one. Unreleased, the lock would stay in the name of an instance that lives, and keep every waiter out
      // until its TTL ran out (what the chaos run on S3 saw: waits of up to 15 s).
      if (this.ended) {
        if (kept) await redis.releaseLock(this.key, token).catch(() => {});
        return;
      }
      if (!kept) return this.lose('another instance took it over while this one was out of touch');
    } catch (error) {
      // Timed out, it may still run: a release sent after it, on the same connection, runs after it.
      if (this.ended) return void (await redis.releaseLock(this.key, token).catch(() => {}));
      logger.warn({ err: error, uploadId: this.id }, 'could not confirm an upload lock after a Redis stall');
      return;
    }
    this.token = token;
    this.epoch = epoch;
    this.armFence(sentAt);
    logger.info({ uploadId: this.id }, 'kept an upload lock through a Redis stall');
  }

  private async renew(): Promise<void> {
    const sentAt = Date.now();
    try {
      const renewed = await this.host.redis.renewLock(this.key, this.token, this.host.options.ttlMs);
      if (this.ended) return;
      if (renewed === 1) this.armFence(sentAt);
      else this.lose('the lock key was taken over or expired');
    } catch (error) {
      // Not fatal yet: the fence fires if no renewal succeeds in time.
      this.host.logger.warn({ err: error, uploadId: this.id }, 'could not renew an upload lock');
    }
  }

  /** The lock is ours until sentAt + ttl at the latest; stop writing a safety margin before that. */
  private armFence(sentAt: number): void {
    if (this.ended) return;
    const { ttlMs, safetyMarginMs } = this.host.options;
    clearTimeout(this.fenceTimer);
    this.validUntil = sentAt + ttlMs - safetyMarginMs;
    const delay = Math.max(0, this.validUntil - Date.now());
    this.fenceTimer = setTimeout(() => this.lose('the lock could not be renewed in time'), delay);
    this.fenceTimer.unref();
  }

  private lose(reason: string): void {
    if (this.fence.aborted) return;
    this.host.logger.warn({ uploadId: this.id, reason }, 'lost an upload lock: stopping its writer');
    this.end();
    this.controller.abort(appError('LOCK_LOST'));
    this.onLost();
  }
}
