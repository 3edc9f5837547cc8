import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';

/** Who holds a lock, as its token says: the instance (12 hex digits) and the epoch it held it in. */
export type Holder = Readonly<{ instance: string; epoch: number }>;

/**
 * The lock protocol this build speaks (its tokens, liveness keys and fencing),
 * version 2: a token is a UUID of version 8 (RFC 9562's "custom" layout),
 * `<instance 8>-<instance 4>-8<epoch 3>-<variant, random 3>-<random 12>`. A
 * token of any other shape (a random UUID of a build before instance liveness,
 * or the version-1 tokens of the build before this one, which random UUIDs
 * also matched) names no holder this build may judge: such a lock is asked to
 * let go, or waited out, never taken over as dead.
 */
const TOKEN = /^([0-9a-f]{8})-([0-9a-f]{4})-8([0-9a-f]{3})-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Epochs are counted modulo this (three hex digits of a token). */
const EPOCHS = 0x1000;

/** The holder a lock token names, or undefined for a token this build cannot interpret (another build's). */
export function holderOf(token: string): Holder | undefined {
  const match = TOKEN.exec(token);
  return match ? { instance: `${match[1]}${match[2]}`, epoch: Number.parseInt(match[3] as string, 16) } : undefined;
}

/**
 * This instance's liveness, while it holds upload locks: a key
 * `instance:{<id>}` refreshed every fifth of `ttlMs`, written before its
 * first lock and deleted after its last. Its lock tokens name it
 * (see TOKEN), so that an instance
 * waiting for a lock whose holder's key is gone (the holder died, or has been
 * paused longer than `ttlMs`) may take the lock at once instead of waiting out
 * LOCK_TTL_MS.
 *
 * The other side of that bargain: this instance must never write once others
 * may take it for dead. It counts itself alive only until a fifth of `ttlMs`
 * before its key could expire (`alive`, checked before every write). Past
 * that its writers wait (a Redis stall is not a death): a refresh that finds
 * the key still there confirms that nobody could take it for dead, and they go
 * on. A refresh that finds the key gone starts a new epoch, which its old
 * locks do not carry: each is kept only if nobody took it over meanwhile (see
 * Lease.reassertAfter).
 */
export class InstanceLiveness {
  readonly id = randomBytes(6).toString('hex');
  private epoch = 0;
  private validUntil = 0;
  private holders = 0;
  private registering: Promise<void> | undefined;
  /** Whether the key `registering` writes is written. */
  private registered = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly expiredListeners = new Set<() => void>();
  /** Whether this instance's liveness is unconfirmed past its deadline (said once in the log). */
  private unsure = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  /** The epoch this instance is in, as its tokens carry it. */
  get currentEpoch(): number {
    return this.epoch % EPOCHS;
  }

  /** A new token for a lock of this instance, in its current epoch. */
  token(): string {
    const epoch = this.currentEpoch.toString(16).padStart(3, '0');
    const random = randomBytes(9);
    // The variant bits (10xx) of RFC 9562 in the fourth group's first digit.
    const variant = (8 + ((random[0] as number) % 4)).toString(16);
    const hex = random.toString('hex');
    return `${this.id.slice(0, 8)}-${this.id.slice(8)}-8${epoch}-${variant}${hex.slice(2, 5)}-${hex.slice(5, 17)}`;
  }

  /** Whether this instance may still write under its locks of `epoch`: nobody can have taken it for dead. */
  alive(epoch: number): boolean {
    return epoch === this.currentEpoch && Date.now() < this.validUntil;
  }

  /** Whether `holder` may be taken for dead: its instance's key is gone (or it is this instance, in an epoch it has left). */
  async isDead(holder: Holder): Promise<boolean> {
    if (holder.instance === this.id) return holder.epoch !== this.currentEpoch;
    return (await this.redis.exists(this.keys.instance(holder.instance))) === 0;
  }

  /** Hears that this instance's liveness key had expired and it goes on in a new epoch (it may have been taken for dead). */
  onExpired(listener: () => void): void {
    this.expiredListeners.add(listener);
  }

  /** Before a lock is taken: this instance's key is there (written first, so no waiter can find the lock without it). */
  async hold(): Promise<void> {
    this.holders++;
    const registering = this.registering ?? this.register();
    this.registering = registering;
    try {
      await registering;
    } catch (error) {
      this.holders--;
      // The next holder tries again.
      if (this.registering === registering) this.registering = undefined;
      throw error;
    }
  }

  /** After a lock is released (or not taken): the key goes with the last one. */
  async release(): Promise<void> {
    this.holders = Math.max(0, this.holders - 1);
    if (this.holders > 0) return;
    // Not awaited once written: the DEL then goes out in the same round trip as the lock's release.
    if (!this.registered) await this.registering?.catch(() => {});
    if (this.holders > 0) return;
    this.registering = undefined;
    this.registered = false;
    this.validUntil = 0;
    clearTimeout(this.refreshTimer);
    clearTimeout(this.deadlineTimer);
    await this.redis.del(this.keys.instance(this.id)).catch(() => {});
  }

  private async register(): Promise<void> {
    const sentAt = Date.now();
    await this.redis.set(this.keys.instance(this.id), String(this.epoch), 'PX', this.ttlMs);
    this.registered = true;
    this.confirmed(sentAt);
  }

  private async refresh(): Promise<void> {
    if (this.holders === 0) return;
    const sentAt = Date.now();
    try {
      // XX: only while the key lives. Once it has expired, others may have taken this instance for dead.
      const reply = await this.redis.set(this.keys.instance(this.id), String(this.epoch), 'PX', this.ttlMs, 'XX');
      if (reply === 'OK') this.confirmed(sentAt);
      else await this.expired();
    } catch (error) {
      // Not fatal yet: the deadline passes if no refresh succeeds in time.
      this.logger.warn({ err: error }, "could not refresh this instance's liveness");
      this.schedule();
    }
  }

  private confirmed(sentAt: number): void {
    if (this.holders === 0) return;
    // A fifth of the TTL before the key may expire, this instance stops counting itself alive.
    this.validUntil = sentAt + this.ttlMs - this.ttlMs / 5;
    if (this.unsure)
      this.logger.info({ instance: this.id }, "this instance's liveness is confirmed again: writes go on");
    this.unsure = false;
    clearTimeout(this.deadlineTimer);
    const left = Math.max(0, this.validUntil - Date.now());
    this.deadlineTimer = setTimeout(() => this.unconfirmed(), left);
    this.deadlineTimer.unref();
    this.schedule();
  }

  /** No refresh was confirmed in time (Redis stalls): writes wait; refreshes go on. */
  private unconfirmed(): void {
    if (this.holders === 0 || this.unsure) return;
    this.unsure = true;
    this.logger.warn({ instance: this.id }, "this instance's liveness could not be confirmed in time: writes wait");
  }

  private schedule(): void {
    clearTimeout(this.refreshTimer);
    if (this.holders === 0) return;
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.max(10, Math.floor(this.ttlMs / 5)));
    this.refreshTimer.unref();
  }

  /**
   * A refresh found this instance's key gone: others may have taken it for
   * dead. It goes on under a new epoch; each lock of the old one is kept only
   * if nobody took it over (the listeners re-assert them).
   */
  private async expired(): Promise<void> {
    if (this.holders === 0) return;
    this.epoch++;
    this.validUntil = 0;
    clearTimeout(this.deadlineTimer);
    this.logger.warn({ instance: this.id }, "this instance's liveness key had expired: its upload locks are checked");
    this.registering = this.register();
    try {
      await this.registering;
    } catch (error) {
      this.logger.warn({ err: error }, 'could not register this instance again; retrying');
      this.schedule();
      return;
    }
    for (const listener of this.expiredListeners) listener();
  }
}
