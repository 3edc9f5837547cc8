import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createRedisClient, duplicateOf, type RedisClient } from '../../src/redis/client.js';
import { createKeys } from '../../src/redis/keys.js';
import { type LiveMessage, publishUploadEvents, UploadEventFeed } from '../../src/uploads/events/live-feed.js';
import { UploadReader } from '../../src/uploads/read/upload-reader.js';
import { UploadIndexes } from '../../src/uploads/state/indexes.js';
import { UploadTracker } from '../../src/uploads/state/tracker.js';
import { waitFor } from '../helpers/wait.js';

const clients: RedisClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

async function client(): Promise<RedisClient> {
  const redis = createRedisClient(inject('redisUrl'), { commandTimeoutMs: 2000 });
  clients.push(redis);
  await redis.connect();
  return redis;
}

/** A reader that counts the rows it reads, and how many at once at most (it is the real reader underneath). */
class CountingReader extends UploadReader {
  readonly reads: string[] = [];
  inFlight = 0;
  mostAtOnce = 0;
  override async readRecord(id: string) {
    this.reads.push(id);
    this.mostAtOnce = Math.max(this.mostAtOnce, ++this.inFlight);
    try {
      return await super.readRecord(id);
    } finally {
      this.inFlight--;
    }
  }
}

describe('live feed', () => {
  it('reads rows side by side, hands them out in publish order, only for uploads someone watches', async () => {
    const redis = await client();
    const keys = createKeys(`test-${randomUUID()}:`, 1);
    const logger = createLogger('silent');
    const tracker = new UploadTracker(
      redis,
      keys,
      { completedRetentionMs: 60_000, groupTtlMs: 60_000 },
      new UploadIndexes(redis, keys, 60_000),
    );
    const [watched, unwatched] = [randomUUID(), randomUUID()];
    for (const id of [watched, unwatched]) {
      await tracker.create({
        id,
        size: 10,
        chunkSize: 1000,
        metadata: {},
        createdAt: Date.now(),
        expiresAt: Date.now() + 60_000,
      });
    }
    const reader = new CountingReader(redis, keys);
    const feed = new UploadEventFeed(duplicateOf(redis), keys, reader, logger);
    await feed.start();
    try {
      const heard: LiveMessage[] = [];
      feed.listen(() => {
        throw new Error('a broken listener');
      }, watched);
      feed.listen((message) => heard.push(message), watched);
      const publish = publishUploadEvents(redis, keys, logger);
      publish({ type: 'created', id: watched });
      for (let i = 0; i < 300; i++) {
        publish({ type: 'progress', id: watched });
        publish({ type: 'progress', id: unwatched });
      }
      publish({ type: 'completed', id: watched });
      await waitFor(() => heard.length >= 302, {
        timeoutMs: 5000,
        intervalMs: 10,
        what: () => `302 messages (heard ${heard.length})`,
      });

      expect(heard).toHaveLength(302);
      expect(heard[0]?.type).toBe('created');
      expect(heard.at(-1)?.type).toBe('completed');
      expect(heard.map((m) => m.at)).toEqual([...heard.map((m) => m.at)].sort((a, b) => a - b));
      expect(heard.every((m) => m.id === watched && m.upload?.id === watched)).toBe(true);
      expect(reader.reads.includes(unwatched)).toBe(false);
      expect(reader.mostAtOnce).toBeGreaterThan(1);
    } finally {
      feed.stop();
    }
  });
});
