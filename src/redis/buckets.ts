import { crc32 } from 'node:zlib';
import calculateSlot from 'cluster-key-slot';
import { isClusterUrl } from './client.js';

/**
 * Uploads are spread over buckets, each a Redis Cluster hash tag of its own
 * (`{b17}`). An upload's keys, its lock, its entries in the indexes and its
 * channels carry its bucket's tag, so everything one upload's write touches
 * is in one slot (one script may do it all), and the buckets together fall on
 * every master. An upload's bucket is fixed by its ID and the bucket count.
 */
const CLUSTER_BUCKETS = 64;
const MAX_BUCKETS = 1024;

const SLOTS = 16_384;

/**
 * Bucket k's hash tag: `b<k>`, or `b<k>.<j>` with the smallest j that puts it
 * within a quarter bucket's width of the k-th of `count` evenly spaced slots.
 * A cluster's masters hold contiguous ranges of slots, mostly of equal size,
 * so evenly spaced buckets fall evenly on them (64 buckets on 3 masters: 21,
 * 21 and 22), which tags left to the hash would not. The same on every instance.
 */
function bucketTags(count: number): readonly string[] {
  const width = SLOTS / count;
  return Array.from({ length: count }, (_, k) => {
    const target = (k + 0.5) * width;
    for (let j = 0; ; j++) {
      const tag = j === 0 ? `b${k}` : `b${k}.${j}`;
      if (Math.abs(calculateSlot(tag) - target) <= Math.max(width / 4, 0.5)) return tag;
    }
  });
}

export type Buckets = Readonly<{
  /** Every bucket's hash tag, bucket 0 first. */
  tags: readonly string[];
  /** The bucket upload `id` is in. */
  of(id: string): number;
  /** The hash tag of the bucket upload `id` is in. */
  tagOf(id: string): string;
}>;

export function createBuckets(count: number): Buckets {
  if (!Number.isInteger(count) || count < 1 || count > MAX_BUCKETS) {
    throw new Error(`the bucket count must be an integer from 1 to ${MAX_BUCKETS}`);
  }
  const tags = Object.freeze(bucketTags(count));
  const of = (id: string) => crc32(id) % count;
  return Object.freeze({ tags, of, tagOf: (id: string) => tags[of(id)] as string });
}

/**
 * How many buckets a deployment uses: REDIS_BUCKETS, else 64 on a Redis
 * Cluster (even over 3 to 32 masters) and 1 on one Redis, where a bucket
 * spreads nothing and every extra one would cost the uploads list a read.
 * Every instance sharing a Redis must use the same count (migrate-redis moves
 * the keys when it changes).
 */
export const bucketCountOf = (redis: Readonly<{ url?: string | undefined; buckets?: number | undefined }>): number =>
  redis.buckets ?? (isClusterUrl(redis.url) ? CLUSTER_BUCKETS : 1);

const clusterBuckets = createBuckets(CLUSTER_BUCKETS);
/** The tags of a cluster's default buckets. */
export const BUCKET_TAGS = clusterBuckets.tags;
/** The tag of an upload's bucket among a cluster's default buckets. */
export const bucketTagOf = clusterBuckets.tagOf;
