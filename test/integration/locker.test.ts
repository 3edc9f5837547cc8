import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import type { RedisClient } from '../../src/redis/client.js';
import { createRedisClient, duplicateOf } from '../../src/redis/client.js';
import { createKeys, type Keys } from '../../src/redis/keys.js';
import { type LockerOptions, lockerOptions } from '../../src/uploads/coordination/lock-host.js';
import { RedisLocker } from '../../src/uploads/coordination/redis-locker.js';
import { elapse, waitFor } from '../helpers/wait.js';

const clients: RedisClient[] = [];
const lockers: RedisLocker[] = [];
let keys: Keys;

async function client(): Promise<RedisClient> {
  const c = createRedisClient(inject('redisUrl'), { commandTimeoutMs: 2000 });
  await c.connect();
  clients.push(c);
  return c;
}

/** A locker with its own connections, as another server process would have. */
async function locker(options: Partial<LockerOptions> = {}): Promise<RedisLocker> {
  const redis = await client();
  const l = new RedisLocker(
    redis,
    duplicateOf(redis),
    keys,
    { ttlMs: 3000, acquireTimeoutMs: 2000, safetyMarginMs: 500, ...options },
    createLogger('silent'),
  );
  await l.start();
  lockers.push(l);
  return l;
}

const never = () => new AbortController().signal;

beforeEach(() => {
  keys = createKeys(`test-${randomUUID()}:`, 1);
});
afterEach(async () => {
  for (const l of lockers.splice(0)) await l.stop();
  for (const c of clients.splice(0)) c.disconnect();
});

describe('RedisLocker', () => {
  it('holds a token-owned key with a TTL, and deletes only its own key on release', async () => {
    const a = await locker();
    const id = randomUUID();
    const lock = a.newLock(id);
    await lock.lock(never(), () => {});
    const key = keys.lock(id);
    expect(await a.redis.get(key)).toMatch(/^[0-9a-f-]{36}$/);
    expect(await a.redis.pttl(key)).toBeGreaterThan(0);
    // Someone else's lock under the same key (ours expired, theirs taken) survives our unlock.
    await a.redis.set(key, 'someone-else', 'PX', 3000);
    await lock.unlock();
    expect(await a.redis.get(key)).toBe('someone-else');
  });

  it('asks the holder in another process to let go, and takes the lock once it does', async () => {
    const a = await locker();
    const b = await locker();
    const id = randomUUID();
    const held = a.newLock(id);
    let asked = 0;
    await held.lock(never(), () => {
      asked++;
      setTimeout(() => void held.unlock(), 50);
    });
    const started = Date.now();
    await b.newLock(id).lock(never(), () => {});
    expect(asked).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(b.heldCount).toBe(1);
    expect(a.heldCount).toBe(0);
  });

  it('answers 423 when the holder does not let go within the acquire timeout', async () => {
    const a = await locker();
    const b = await locker({ acquireTimeoutMs: 300 });
    const id = randomUUID();
    await a.newLock(id).lock(never(), () => {});
    await expect(b.newLock(id).lock(never(), () => {})).rejects.toMatchObject({ status: 423, code: 'UPLOAD_LOCKED' });
  });

  it('stops waiting when the waiting request is aborted', async () => {
    const a = await locker();
    const b = await locker({ acquireTimeoutMs: 10_000 });
    const id = randomUUID();
    await a.newLock(id).lock(never(), () => {});
    const abort = new AbortController();
    const started = Date.now();
    const waiting = b.newLock(id).lock(abort.signal, () => {});
    setTimeout(() => abort.abort(), 100);
    await expect(waiting).rejects.toMatchObject({ status: 423 });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('keeps the lock alive past its TTL while held', async () => {
    // A TTL short enough to pass several times in the test, long enough that a loaded machine's pause of a few
    // hundred ms (a CI run's suite beside it) is not taken for a lost renewal.
    const a = await locker({ ttlMs: 1000, safetyMarginMs: 300 });
    const id = randomUUID();
    await a.newLock(id).lock(never(), () => {});
    await elapse(3500); // a fixed time: the lock must outlive its 1 s TTL several times over
    expect(await a.redis.pttl(keys.lock(id))).toBeGreaterThan(0);
    expect(a.fence(id)?.aborted).toBe(false);
  });

  it('aborts the fence of a holder whose key was taken, and asks it to release', async () => {
    const a = await locker({ ttlMs: 300, safetyMarginMs: 100 });
    const id = randomUUID();
    let asked = false;
    await a.newLock(id).lock(never(), () => {
      asked = true;
    });
    const fence = a.fence(id);
    await a.redis.set(keys.lock(id), 'intruder');
    await waitFor(() => fence?.aborted && asked, { what: 'the holder to find its key taken' });
    expect(fence?.aborted).toBe(true);
    expect(asked).toBe(true);
  });

  it('aborts the fence before the key can expire when Redis stops answering renewals', async () => {
    const redis = await client();
    const l = new RedisLocker(
      redis,
      duplicateOf(redis),
      keys,
      { ttlMs: 600, acquireTimeoutMs: 1000, safetyMarginMs: 200 },
      createLogger('silent'),
    );
    lockers.push(l);
    const id = randomUUID();
    await l.newLock(id).lock(never(), () => {});
    const fence = l.fence(id) as AbortSignal;
    const lostAt = new Promise<number>((resolve) => fence.addEventListener('abort', () => resolve(Date.now())));
    const takenAt = Date.now();
    redis.disconnect(); // renewals now fail
    expect((await lostAt) - takenAt).toBeLessThanOrEqual(600 - 200 + 50);
  });
});

describe('RedisLocker, after review', () => {
  it('a lock released while its reassertion after a Redis stall is in flight is not left held', async () => {
    const a = await locker({ ttlMs: 10_000, instanceTtlMs: 500 });
    const id = randomUUID();
    const lock = a.newLock(id);
    await lock.lock(never(), () => {});
    // The reassertion's compare-and-set reaches Redis first; its reply is held until the lock has been released.
    const redis = a.redis;
    const takeOverLock = redis.takeOverLock;
    let sent: () => void = () => {};
    const takeOverSent = new Promise<void>((resolve) => {
      sent = resolve;
    });
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    redis.takeOverLock = function (this: unknown, ...args: Parameters<typeof takeOverLock>) {
      const reply = takeOverLock.apply(this, args);
      // ioredis's auto-pipelining calls it again on its pipeline: that call only queues the command.
      if (this !== redis) return reply;
      sent();
      return answered.then(() => reply);
    };
    // This instance's liveness key is gone, as after a Redis stall longer than its TTL: a new epoch, and the lock
    // (of the old one) is reasserted.
    await a.redis.del(keys.instance(a.liveness.id));
    await takeOverSent;
    await lock.unlock();
    answer();
    // Released, not held in the name of a live instance until its 10 s TTL runs out.
    await waitFor(async () => (await a.redis.exists(keys.lock(id))) === 0, {
      timeoutMs: 3000,
      what: 'the lock key to be gone',
    });
  });

  it('an old lock released late does not take the fence away from the new holder in the same process', async () => {
    const a = await locker({ ttlMs: 600, safetyMarginMs: 150 });
    const id = randomUUID();
    const old = a.newLock(id);
    await old.lock(never(), () => {});
    // The old holder loses its key (e.g. it expired while the process was stalled)...
    await a.redis.del(keys.lock(id));
    const next = a.newLock(id);
    await next.lock(never(), () => {});
    // ...and only then releases: the new holder must stay tracked.
    await old.unlock();
    expect(a.fence(id)).toBeDefined();
    expect(a.fence(id)?.aborted).toBe(false);
    expect(a.heldCount).toBe(1);
  });

  it('survives one renewal that fails', async () => {
    const { startFaultProxy } = await import('../helpers/fault-proxy.js');
    const proxy = await startFaultProxy(Number(new URL(inject('redisUrl')).port));
    const viaProxy = createRedisClient(proxy.url('redis'), { commandTimeoutMs: 150 });
    viaProxy.on('error', () => {});
    await viaProxy.connect();
    const logger = createLogger('silent');
    const failures: unknown[] = [];
    logger.warn = ((obj: unknown) => failures.push(obj)) as typeof logger.warn;
    // As the server runs it: renewals every 300 ms, the fence 1200 ms after the last renewal that succeeded.
    const l = new RedisLocker(viaProxy, duplicateOf(viaProxy), keys, lockerOptions(1500, 500), logger);
    lockers.push(l);
    try {
      const id = randomUUID();
      await l.newLock(id).lock(never(), () => {});
      const fence = l.fence(id) as AbortSignal;
      await elapse(250); // a fixed time: puts the fault just before the first renewal (at 300 ms)
      proxy.hold(500); // a renewal sent in it times out (150 ms); the next after it goes through
      // A fixed time: the fence (1200 ms after the last renewal that succeeded) must not fire in all of it.
      await elapse(1800);
      expect(failures.length).toBeGreaterThanOrEqual(1);
      expect(fence.aborted).toBe(false);
      expect(await l.redis.pttl(keys.lock(id))).toBeGreaterThan(0);
    } finally {
      viaProxy.disconnect();
      await proxy.close();
    }
  });

  it('takes the lock when the reply to its SET was lost and ioredis resent it', async () => {
    const { startFaultProxy } = await import('../helpers/fault-proxy.js');
    const proxy = await startFaultProxy(Number(new URL(inject('redisUrl')).port));
    const viaProxy = createRedisClient(proxy.url('redis'), { commandTimeoutMs: 2000 });
    viaProxy.on('error', () => {});
    await viaProxy.connect();
    const l = new RedisLocker(
      viaProxy,
      duplicateOf(viaProxy),
      keys,
      { ttlMs: 3000, acquireTimeoutMs: 300, safetyMarginMs: 600 },
      createLogger('silent'),
    );
    lockers.push(l);
    try {
      const id = randomUUID();
      proxy.dropNextReply();
      await l.newLock(id).lock(never(), () => {});
      expect(proxy.dropped).toBe(1);
      expect(l.heldCount).toBe(1);
    } finally {
      viaProxy.disconnect();
      await proxy.close();
    }
  });

  it('tryLock never asks the holder to let go', async () => {
    const a = await locker();
    const b = await locker();
    const id = randomUUID();
    let asked = 0;
    await a.newLock(id).lock(never(), () => {
      asked++;
    });
    expect(await b.tryLock(id)).toBeUndefined();
    await elapse(100); // a fixed time: nothing may come, and a request to let go would have come by now
    expect(asked).toBe(0);
  });

  it('stops every wait for a lock when told to (shutdown)', async () => {
    const a = await locker();
    const b = await locker({ acquireTimeoutMs: 10_000 });
    const id = randomUUID();
    await a.newLock(id).lock(never(), () => {});
    const waiting = b.newLock(id).lock(never(), () => {});
    setTimeout(() => b.stopWaiting(), 100);
    const started = Date.now();
    await expect(waiting).rejects.toMatchObject({ status: 423 });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
