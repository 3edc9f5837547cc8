import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { BUCKET_TAGS, bucketTagOf } from '../../src/redis/buckets.js';
import { createKeys } from '../../src/redis/keys.js';

/** How many bucket tags fall on each of `masters` masters holding equal contiguous slot ranges. */
function perMaster(masters: number): number[] {
  const counts = new Array<number>(masters).fill(0);
  for (const tag of BUCKET_TAGS) {
    const master = Math.floor((calculateSlot(tag) * masters) / 16_384);
    counts[master] = (counts[master] ?? 0) + 1;
  }
  return counts;
}

describe('buckets (hash tags spread over the cluster slots)', () => {
  it('fall evenly on the masters of an evenly split cluster, from 3 to 32', () => {
    expect(perMaster(3).sort()).toEqual([21, 21, 22]);
    expect(perMaster(6).every((n) => n === 10 || n === 11)).toBe(true);
    expect(perMaster(32).every((n) => n === 2)).toBe(true);
  });

  it("put an upload's channels in its bucket's slot, the same bucket on every call", () => {
    const keys = createKeys('p:', 64);
    const id = '3f2c1a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60';
    const tag = bucketTagOf(id);
    expect(BUCKET_TAGS).toContain(tag);
    expect(bucketTagOf(id)).toBe(tag);
    expect(keys.events.shardOf(id)).toBe(`p:uploads:{${tag}}:events`);
    expect(calculateSlot(keys.lockRelease.shardOf(id))).toBe(calculateSlot(tag));
    expect(keys.events.shards).toHaveLength(64);
    expect(new Set(keys.events.shards).size).toBe(64);
  });

  it('spread uploads over all buckets', () => {
    const used = new Set(Array.from({ length: 5000 }, (_, i) => bucketTagOf(`upload-${i}`)));
    expect(used.size).toBe(64);
  });
});
