import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './client.js';

/**
 * Every key matching `pattern`, on every master of a cluster (SCAN: a key
 * there for the whole walk is found; one made or removed meanwhile may or may
 * not be). A walk of the whole keyspace: for rare work (a migration, a start).
 */
export async function* scanAll(redis: RedisClient, pattern: string): AsyncGenerator<string> {
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      yield* found;
    } while (cursor !== '0');
  }
}
