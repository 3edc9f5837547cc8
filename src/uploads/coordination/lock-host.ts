import type { Logger } from '../../log.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import type { InstanceLiveness } from './instance-liveness.js';

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
  /** An instance whose liveness key is older than this is taken for dead (see InstanceLiveness); 1500 by default. */
  instanceTtlMs?: number;
  /**
   * A writer whose lease cannot be confirmed (Redis stalls) waits this long
   * for it before its request is answered 503: the Redis command timeout
   * (2000 by default).
   */
  stallTimeoutMs?: number;
}>;

/**
 * The options the server runs with: renewals every fifth of the TTL and a
 * margin of a fifth, so three renewals in a row may fail before a holder stops.
 */
export const lockerOptions = (
  ttlMs: number,
  acquireTimeoutMs: number,
  instanceTtlMs?: number,
  stallTimeoutMs?: number,
): LockerOptions => ({
  ttlMs,
  acquireTimeoutMs,
  safetyMarginMs: ttlMs / 5,
  instanceTtlMs,
  stallTimeoutMs,
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
  /** A lock was taken over from an instance taken for dead. */
  tookOver?: () => void;
}>;

/** What a lock needs of the locker that gave it out (the RedisLocker). */
export type LockHost<Lock> = Readonly<{
  redis: RedisClient;
  keys: Keys;
  options: LockerOptions;
  hooks: LockerHooks;
  logger: Logger;
  liveness: InstanceLiveness;
  /** Aborted on shutdown: requests still waiting for a lock give up. */
  stopping: AbortController;
  /** Takes note that `lock` holds upload `id` in this process. */
  track(id: string, lock: Lock): void;
  /** Forgets a lock it held; false if it held none. */
  untrack(id: string, lock: Lock): boolean;
}>;
