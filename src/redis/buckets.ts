import { crc32 } from 'node:zlib';
import calculateSlot from 'cluster-key-slot';

/**
 * Uploads are spread over buckets, each a Redis Cluster hash tag of its own
 * (`{b17}`), so that what concerns one bucket lands on one node and the
 * buckets together on all of them. Today the buckets carry the live-event and
 * lock-release channels (sharded pub/sub on a cluster); an upload's bucket is
 * fixed by its ID.
 */
const BUCKETS = 64;

const SLOTS = 16_384;

/**
 * Bucket k's hash tag: `b<k>`, or `b<k>.<j>` with the smallest j that puts it
 * within a quarter bucket's width of the k-th of BUCKETS evenly spaced slots.
 * A cluster's masters hold contiguous ranges of slots, mostly of equal size,
 * so evenly spaced buckets fall evenly on them (3 masters: 21, 21 and 22
 * buckets), which tags left to the hash would not. The same on every instance.
 */
function bucketTags(count: number): readonly string[] {
  const width = SLOTS / count;
  return Array.from({ length: count }, (_, k) => {
    const target = (k + 0.5) * width;
    for (let j = 0; ; j++) {
      const tag = j === 0 ? `b${k}` : `b${k}.${j}`;
      if (Math.abs(calculateSlot(tag) - target) <= width / 4) return tag;
    }
  });
}

export const BUCKET_TAGS = bucketTags(BUCKETS);

/** The hash tag of the bucket upload `id` is in. */
export const bucketTagOf = (id: string): string => BUCKET_TAGS[crc32(id) % BUCKETS] as string;
