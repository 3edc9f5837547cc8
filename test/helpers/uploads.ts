import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import { wireUploads } from '../../src/app/wire-uploads.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/log.js';
import { createRedisClient, type RedisClient } from '../../src/redis/client.js';
import { keysFor } from '../../src/redis/keys.js';
import type { UploadEvent } from '../../src/uploads/events/upload-events.js';
import type { Caller } from '../../src/uploads/model/caller.js';
import { UploadReader } from '../../src/uploads/read/upload-reader.js';

/**
 * The upload service as the app wires it, without HTTP: on the run's Redis
 * (or `redisUrl`), under a key prefix and upload directory of its own, with
 * every event it emits kept in `events`.
 */
export async function createUploadsContext(env: Record<string, string> = {}, redisUrl = inject('redisUrl')) {
  const dir = mkdtempSync(path.join(inject('tmpRoot'), 'uploads-'));
  const config = loadConfig({
    UPLOAD_DIR: dir,
    REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
    REDIS_URL: redisUrl,
    ...env,
  });
  const redis: RedisClient = createRedisClient(redisUrl, { commandTimeoutMs: config.redis.commandTimeoutMs });
  redis.on('error', () => {});
  await redis.connect();
  const keys = keysFor(config.redis);
  const reader = new UploadReader(redis, keys);
  const events: UploadEvent[] = [];
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const uploads = wireUploads({
    config,
    redis,
    keys,
    reader,
    logger,
    events: { emit: async (e) => void events.push(e) },
  });
  await uploads.start();
  return {
    ...uploads,
    config,
    redis,
    keys,
    reader,
    dir,
    events,
    /** The lifecycle events of one upload (not bytes received or progress), by type, in order. */
    eventsOf: (id: string) =>
      events
        .filter((e) => 'id' in e && e.id === id && e.type !== 'received' && e.type !== 'progress')
        .map((e) => e.type),
    async close() {
      await uploads.stop();
      redis.disconnect();
    },
  };
}

export type UploadsContext = Awaited<ReturnType<typeof createUploadsContext>>;

/** A caller with no owner and no limits of their own, as a request without authorization is. */
export const anonymous: Caller = { owner: undefined, limits: { maxSizeBytes: 0, maxConcurrentUploads: 0 } };
