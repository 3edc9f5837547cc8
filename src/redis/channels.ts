import { duplicateOf, type RedisClient } from './client.js';

/**
 * Pub/sub that stays within one shard on a Redis Cluster. Classic PUBLISH is
 * broadcast to every node over the cluster bus, so its cost grows with the
 * cluster; SPUBLISH to a sharded channel (hashed to a slot like a key) is
 * delivered within the shard that owns it. With one Redis, classic pub/sub.
 */
export type Channels = Readonly<{
  /** The channel with one Redis. */
  classic: string;
  /** The sharded channel of an upload's bucket (see buckets.ts). */
  shardOf(id: string): string;
  /** Every bucket's sharded channel. */
  shards: readonly string[];
}>;

/** A connection for listening: on a cluster, one that also holds a subscriber per master (sharded pub/sub). */
export function subscriberOf(redis: RedisClient): RedisClient {
  return duplicateOf(redis, { shardedSubscribers: true });
}

/** Publishes an upload's message: SPUBLISH to its bucket's channel on a cluster, PUBLISH with one Redis. */
export async function publish(redis: RedisClient, channels: Channels, id: string, message: string): Promise<void> {
  if (redis.isCluster) await redis.spublish(channels.shardOf(id), message);
  else await redis.publish(channels.classic, message);
}

/**
 * Hears every message of `channels` on `subscriber` (made by subscriberOf):
 * every bucket's sharded channel on a cluster, the classic one with one Redis.
 */
export async function listen(
  subscriber: RedisClient,
  channels: Channels,
  hear: (message: string) => void,
): Promise<void> {
  const mine = new Set(subscriber.isCluster ? channels.shards : [channels.classic]);
  const onMessage = (channel: string, message: string) => {
    if (mine.has(channel)) hear(message);
  };
  subscriber.on('message', onMessage);
  subscriber.on('smessage', onMessage);
  if (subscriber.status === 'wait') await subscriber.connect();
  // One SSUBSCRIBE per channel: the channels of one call must share a slot.
  if (subscriber.isCluster) await Promise.all(channels.shards.map((channel) => subscriber.ssubscribe(channel)));
  else await subscriber.subscribe(channels.classic);
}
