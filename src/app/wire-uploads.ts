import type { Config } from '../config/load-config.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../redis/client.js';
import { createKeys } from '../redis/keys.js';
import { createFileByteStore } from '../uploads/bytes/file-byte-store.js';
import { Concatenation } from '../uploads/concatenation/concatenation.js';
import { type LockerHooks, lockerOptions, RedisLocker } from '../uploads/coordination/redis-locker.js';
import { Sweeper } from '../uploads/coordination/sweeper.js';
import type { UploadEvents } from '../uploads/events/upload-events.js';
import { isUploadId } from '../uploads/model/upload-id.js';
import type { UploadRecord } from '../uploads/model/upload-record.js';
import { UploadReader } from '../uploads/read/upload-reader.js';
import { UploadIndexes } from '../uploads/state/indexes.js';
import { OwnerSlots } from '../uploads/state/owner-slots.js';
import { UploadTracker } from '../uploads/state/tracker.js';
import { requestScope } from '../uploads/store/request-context.js';
import { TrackedStore } from '../uploads/store/tracked-store.js';

export type UploadServiceDeps = Readonly<{
  config: Config;
  redis: RedisClient;
  logger: Logger;
  events: UploadEvents;
  lockHooks?: LockerHooks;
  /** Shown every record now and then by the sweeper (the webhook outbox repairs what it missed). */
  revisit?: (record: UploadRecord, now: number) => Promise<void>;
}>;

/** Everything that keeps uploads (bytes, state, locks, sweeping), wired from one configuration; no HTTP. */
export function createUploadService({ config, redis, logger, events, lockHooks = {}, revisit }: UploadServiceDeps) {
  const keys = createKeys(config.redisKeyPrefix);
  const uploadTtlMs = config.uploadTtlSeconds * 1000;
  const completedRetentionMs = config.completedRetentionSeconds * 1000;
  const digest = config.uploadDigest === 'sha256';
  // The indexes and groups outlive every upload they list.
  const indexTtlMs = 2 * Math.max(uploadTtlMs, completedRetentionMs);
  const indexes = new UploadIndexes(redis, keys, indexTtlMs);
  const tracker = new UploadTracker(redis, keys, { completedRetentionMs, groupTtlMs: indexTtlMs }, indexes);
  const reader = new UploadReader(redis, keys);
  const bytes = createFileByteStore(config.uploadDir);
  const locker = new RedisLocker(
    redis,
    redis.duplicate(),
    keys,
    lockerOptions(config.lockTtlMs, config.lockAcquireTimeoutMs),
    logger,
    {
      ...lockHooks,
      // A tus request reads the upload's record right after taking its lock: read it in the same round trip.
      alongsideAttempt: (id) => {
        const scope = requestScope.getStore();
        if (!scope || !isUploadId(id)) return;
        const hash = reader.readHash(id);
        hash.catch(() => {}); // whoever consumes it sees the error; unconsumed, it is dropped
        scope.prefetched = { id, hash };
      },
    },
  );
  const sweeper = new Sweeper(
    { redis, keys, bytes, tracker, reader, locker, logger, events, revisit },
    { orphanIntervalMs: config.orphanSweepIntervalSeconds * 1000, orphanGraceMs: 60_000, budgetMs: 30_000 },
  );
  const slots = new OwnerSlots(redis, keys, uploadTtlMs);
  const store = new TrackedStore({
    bytes,
    tracker,
    reader,
    sweeper,
    events,
    chunkSizeBytes: config.chunkSizeBytes,
    maxSizeBytes: config.maxSizeBytes,
    uploadTtlMs,
    progressIntervalMs: config.progressIntervalMs,
    digest,
    onLateError: (error) => logger.warn({ err: error }, 'could not record progress'),
    fence: (id) => locker.fence(id),
    slots,
  });
  const concatenation = new Concatenation({
    redis,
    keys,
    bytes,
    tracker,
    reader,
    locker,
    events,
    chunkSizeBytes: config.chunkSizeBytes,
    maxSizeBytes: config.maxSizeBytes,
    uploadTtlMs,
    removePartials: config.removePartialsAfterConcat,
    digest,
    slots,
  });
  return {
    keys,
    tracker,
    reader,
    bytes,
    locker,
    sweeper,
    store,
    concatenation,
    /** Connects what listens in the background (lock release requests). */
    start: () => locker.start(),
    stop: async () => {
      await locker.stop();
      await store.writer.close();
    },
  };
}

export type UploadService = ReturnType<typeof createUploadService>;
