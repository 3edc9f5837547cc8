import type { Config } from '../config/load-config.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { createFileByteStore } from '../uploads/bytes/file-byte-store.js';
import { Concatenation } from '../uploads/concatenation/concatenation.js';
import { type LockerHooks, lockerOptions, RedisLocker } from '../uploads/coordination/redis-locker.js';
import { Sweeper } from '../uploads/coordination/sweeper.js';
import type { UploadEvents } from '../uploads/events/upload-events.js';
import { UploadLifecycle } from '../uploads/lifecycle/upload-lifecycle.js';
import { isUploadId } from '../uploads/model/upload-id.js';
import type { UploadRecord } from '../uploads/model/upload-record.js';
import type { UploadReader } from '../uploads/read/upload-reader.js';
import { UploadIndexes } from '../uploads/state/indexes.js';
import { OwnerSlots } from '../uploads/state/owner-slots.js';
import { UploadTracker } from '../uploads/state/tracker.js';
import { TrackedStore } from '../uploads/store/tracked-store.js';
import { UploadWriter } from '../uploads/writing/upload-writer.js';

export type UploadsDeps = Readonly<{
  config: Config;
  redis: RedisClient;
  keys: Keys;
  reader: UploadReader;
  logger: Logger;
  events: UploadEvents;
  lockHooks?: Pick<LockerHooks, 'acquired'>;
  /** Shown every record now and then by the sweeper (the webhook outbox repairs what it missed). */
  revisit?: (record: UploadRecord, now: number) => Promise<void>;
}>;

/** Everything that keeps uploads (bytes, state, locks, sweeping), wired from one configuration; no HTTP. */
export function wireUploads({ config, redis, keys, reader, logger, events, lockHooks = {}, revisit }: UploadsDeps) {
  const uploadTtlMs = config.uploads.ttlMs;
  const completedRetentionMs = config.uploads.completedRetentionMs;
  const digest = config.uploads.digest === 'sha256';
  // The indexes and groups outlive every upload they list.
  const indexTtlMs = 2 * Math.max(uploadTtlMs, completedRetentionMs);
  const indexes = new UploadIndexes(redis, keys, indexTtlMs);
  const tracker = new UploadTracker(redis, keys, { completedRetentionMs, groupTtlMs: indexTtlMs }, indexes);
  const bytes = createFileByteStore(config.storage.uploadDir);
  const slots = new OwnerSlots(redis, keys, uploadTtlMs);
  const lifecycle = new UploadLifecycle({ bytes, tracker, reader, events, slots });
  const locker = new RedisLocker(
    redis,
    redis.duplicate(),
    keys,
    lockerOptions(config.locks.ttlMs, config.locks.acquireTimeoutMs),
    logger,
    {
      ...lockHooks,
      // Whoever takes an upload's lock reads its record next: read it in the same round trip.
      readAlongside: (id) => (isUploadId(id) ? reader.readHash(id) : undefined),
    },
  );
  const sweeper = new Sweeper(
    { redis, keys, bytes, tracker, reader, lifecycle, locker, logger, events, revisit },
    { orphanIntervalMs: config.sweeper.orphanIntervalMs, orphanGraceMs: 60_000, budgetMs: 30_000 },
  );
  const writer = new UploadWriter({
    bytes,
    tracker,
    lifecycle,
    events,
    progressIntervalMs: config.uploads.progressIntervalMs,
    digest,
    onLateError: (error) => logger.warn({ err: error }, 'could not record progress'),
  });
  const store = new TrackedStore({
    bytes,
    tracker,
    reader,
    lifecycle,
    writer,
    chunkSizeBytes: config.uploads.chunkSizeBytes,
    maxSizeBytes: config.uploads.maxSizeBytes,
    uploadTtlMs,
    fence: (id) => locker.fence(id),
    takeLockedRead: (id) => locker.takeRead(id),
    sweep: async () => {
      const report = await sweeper.sweep();
      return report.expired + report.orphanFiles + report.orphanRecords;
    },
  });
  const concatenation = new Concatenation({
    redis,
    keys,
    bytes,
    tracker,
    reader,
    lifecycle,
    locker,
    chunkSizeBytes: config.uploads.chunkSizeBytes,
    maxSizeBytes: config.uploads.maxSizeBytes,
    uploadTtlMs,
    removePartials: config.uploads.removePartialsAfterConcat,
    digest,
  });
  return {
    tracker,
    bytes,
    lifecycle,
    locker,
    sweeper,
    writer,
    store,
    concatenation,
    /** Connects what listens in the background (lock release requests). */
    start: () => locker.start(),
    stop: async () => {
      await locker.stop();
      await writer.close();
    },
  };
}

export type Uploads = ReturnType<typeof wireUploads>;
