import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';

/** Who holds a lock, as its token says: the instance (12 hex digits) and the epoch it held it in. */
export type Holder = Readonly<{ instance: string; epoch: number }>;

const TOKEN = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The holder a lock token names, or undefined for a token that names none (an older server's random UUID). */
export function holderOf(token: string): Holder | undefined {
  const match = TOKEN.exec(token);
  return match ? { instance: `${match[1]}${match[2]}`, epoch: Number.parseInt(match[3] as string, 16) } : undefined;
}

/**
 * This instance's liveness, while it holds upload locks: a key
 * `instance:{<id>}` refreshed every fifth of `ttlMs`, written before its
 * first lock and deleted after its last. Its lock tokens name it (they are
 * UUID-shaped: `<instance 8>-<instance 4>-<epoch 4>-<random 4>-<random 12>`),
 * so that an instance waiting for a lock whose holder's key is gone (the
 * holder died, or has been paused longer than `ttlMs`) may take the lock at
 * once instead of waiting out LOCK_TTL_MS.
 *
 * The other side of that bargain: this instance must never write once others
 * may take it for dead. It counts itself alive only until a fifth of `ttlMs`
 * before its key could expire (`alive`, checked before every write); past
 * that, or when a refresh finds the key already gone, it is presumed dead:
 * every lock it holds is lost (their writers stop), and it goes on under a
 * new epoch, which its old locks do not carry.
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
  private readonly lostListeners = new Set<(epoch: number) => void>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  get currentEpoch(): number {
    return this.epoch;
  }

  /** A new token for a lock of this instance, in its current epoch. */
  token(): string {
    const random = randomBytes(8).toString('hex');
    const epoch = (this.epoch % 0x10000).toString(16).padStart(4, '0');
    return `${this.id.slice(0, 8)}-${this.id.slice(8)}-${epoch}-${random.slice(0, 4)}-${random.slice(4)}`;
  }

  /** Whether this instance may still write under its locks of `epoch`: nobody can have taken it for dead. */
  alive(epoch: number): boolean {
    return epoch === this.epoch % 0x10000 && Date.now() < this.validUntil;
  }

  /** Whether `holder` may be taken for dead: its instance's key is gone (or it is this instance, in an epoch it has left). */
  async isDead(holder: Holder): Promise<boolean> {
    if (holder.instance === this.id) return holder.epoch !== this.epoch % 0x10000;
    return (await this.redis.exists(this.keys.instance(holder.instance))) === 0;
  }

  /** Hears the epoch whose locks are lost (this instance was, or may have been, taken for dead). */
  onLost(listener: (epoch: number) => void): void {
    this.lostListeners.add(listener);
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
      else await this.presumedDead('its liveness key had expired');
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
    clearTimeout(this.deadlineTimer);
    const left = Math.max(0, this.validUntil - Date.now());
    this.deadlineTimer = setTimeout(() => void this.presumedDead('no refresh was confirmed in time'), left);
    this.deadlineTimer.unref();
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.refreshTimer);
    if (this.holders === 0) return;
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.max(10, Math.floor(this.ttlMs / 5)));
    this.refreshTimer.unref();
  }

  private async presumedDead(why: string): Promise<void> {
    if (this.holders === 0) return;
    const lost = this.epoch % 0x10000;
    this.epoch++;
    this.validUntil = 0;
    clearTimeout(this.deadlineTimer);
    this.logger.warn(
      { instance: this.id, why },
      'this instance may have been taken for dead: its upload locks are lost',
    );
    for (const listener of this.lostListeners) listener(lost);
    this.registering = this.register();
    await this.registering.catch((error) => {
      this.logger.warn({ err: error }, 'could not register this instance again; retrying');
      this.schedule();
    });
  }
}
