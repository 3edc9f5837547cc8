import { expect } from 'vitest';
import type { RedisClient } from '../../src/redis/client.js';

/** Every key under `prefix` carries a TTL in (0, maxMs]: none is persistent, none is missing one. */
export async function expectEveryKeyToExpire(redis: RedisClient, prefix: string, maxMs: number): Promise<string[]> {
  const keys = await redis.keys(`${prefix}*`);
  for (const key of keys) {
    const ttl = await redis.pttl(key);
    expect(ttl, `PTTL of ${key}`).toBeGreaterThan(0);
    expect(ttl, `PTTL of ${key}`).toBeLessThanOrEqual(maxMs);
  }
  return keys;
}
