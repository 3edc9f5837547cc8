import path from 'node:path';
import { type Config, ConfigError } from '../config/load-config.js';
import type { Logger } from '../log.js';
import { subscriberOf } from '../redis/channels.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { AZURE_LIMITS } from '../uploads/bytes/azure/azure-limits.js';
import type { ByteStore, StorageTraffic } from '../uploads/bytes/byte-store.js';
import { DeferredByteStore } from '../uploads/bytes/deferred-byte-store.js';
import { createFileByteStore } from '../uploads/bytes/file-byte-store.js';
import { S3_LIMITS } from '../uploads/bytes/s3/s3-limits.js';
import { Concatenation } from '../uploads/concatenation/concatenation.js';
import { type LockerHooks, lockerOptions } from '../uploads/coordination/lock-host.js';
import { RedisLocker } from '../uploads/coordination/redis-locker.js';
import { Sweeper } from '../uploads/coordination/sweeper.js';
import type { UploadEvents } from '../uploads/events/upload-events.js';
import { UploadLifecycle } from '../uploads/lifecycle/upload-lifecycle.js';
import { isUploadId } from '../uploads/model/upload-id.js';
import type { UploadRecord } from '../uploads/model/upload-record.js';
import type { UploadReader } from '../uploads/read/upload-reader.js';
import { IdempotencyKeys } from '../uploads/state/idempotency-keys.js';
import { indexTtlOf, UploadIndexes } from '../uploads/state/indexes.js';
import { OwnerSlots } from '../uploads/state/owner-slots.js';
import { UploadTracker } from '../uploads/state/tracker.js';
import { TrackedStore } from '../uploads/store/tracked-store.js';
import { UploadStore } from '../uploads/store/upload-store.js';
import { UploadWriter } from '../uploads/writing/upload-writer.js';

export type UploadsDeps = Readonly<{
  config: Config;
  redis: RedisClient;
  keys: Keys;
  reader: UploadReader;
  logger: Logger;
  events: UploadEvents;
  lockHooks?: Pick<LockerHooks, 'acquired' | 'tookOver'>;
  /** Shown every record now and then by the sweeper (the webhook outbox repairs what it missed). */
  revisit?: (record: UploadRecord, now: number) => Promise<void>;
  /** Hears the bytes sent to and read back from the byte store (S3). */
  storageTraffic?: StorageTraffic;
}>;

/** The byte store the configuration names: files in UPLOAD_DIR, objects in an S3 bucket, or blobs in an Azure container. */
function byteStore({ config, redis, keys, logger, storageTraffic = () => {} }: UploadsDeps): ByteStore {
  const { storage } = config;
  if (storage.kind === 'file') return createFileByteStore(storage.uploadDir);
  // What an object store needs besides its settings.
  const common = {
    redis,
    keys,
    sizeOf: async (id: string) => {
      const size = await redis.hget(keys.forUpload(id).upload, 'size');
      return size === null ? undefined : Number(size);
    },
    spoolDir: path.join(storage.uploadDir, '.spool'),
    logger,
    traffic: storageTraffic,
  };
  if (storage.kind === 'azure') {
    const settings = {
      container: storage.azureContainer as string,
      connectionString: storage.azureConnectionString,
      account: storage.azureAccount,
      accountKey: storage.azureKey,
      sasToken: storage.azureSasToken,
      endpoint: storage.azureEndpoint,
      blobPrefix: storage.azureBlobPrefix,
      requestTimeoutMs: storage.azureRequestTimeoutMs,
    };
    let where: ((id: string) => string) | undefined;
    return new DeferredByteStore(
      AZURE_LIMITS,
      async () => {
        const azure = await import('../uploads/bytes/azure/azure-wiring.js');
        const store = azure.createAzureByteStore({ settings, ...common });
        where = (id) => store.location(id);
        return store;
      },
      (id) => where?.(id) ?? `azure:${settings.container}/${settings.blobPrefix}${id}`,
    );
  }
  const settings = {
    bucket: storage.s3Bucket as string,
    endpoint: storage.s3Endpoint,
    region: storage.s3Region,
    forcePathStyle: storage.s3ForcePathStyle,
    keyPrefix: storage.s3KeyPrefix,
    requestTimeoutMs: storage.s3RequestTimeoutMs,
  };
  return new DeferredByteStore(
    S3_LIMITS,
    async () => (await import('../uploads/bytes/s3/s3-wiring.js')).createS3ByteStore({ settings, ...common }),
    (id) => `s3://${settings.bucket}/${settings.keyPrefix}${id}`,
  );
}

/** Everything that keeps uploads (bytes, state, locks, sweeping), wired from one configuration; no HTTP. */
export function wireUploads(deps: UploadsDeps) {
  const { config, redis, keys, reader, logger, events, lockHooks = {}, revisit } = deps;
  const uploadTtlMs = config.uploads.ttlMs;
  const completedRetentionMs = config.uploads.completedRetentionMs;
  const digest = config.uploads.digest === 'sha256';
  const indexTtlMs = indexTtlOf(config.uploads);
  const indexes = new UploadIndexes(redis, keys, indexTtlMs);
  const tracker = new UploadTracker(
    redis,
    keys,
    { completedRetentionMs, groupTtlMs: indexTtlMs, byteState: config.storage.kind !== 'file' },
    indexes,
  );
  const bytes = byteStore(deps);
  const slots = new OwnerSlots(redis, keys, uploadTtlMs);
  const lifecycle = new UploadLifecycle({ bytes, tracker, reader, events, slots });
  const locker = new RedisLocker(
    redis,
    subscriberOf(redis),
    keys,
    lockerOptions(
      config.locks.ttlMs,
      config.locks.acquireTimeoutMs,
      config.locks.instanceTtlMs,
      config.redis.commandTimeoutMs,
    ),
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
  const uploadStore = new UploadStore({
    bytes,
    tracker,
    reader,
    lifecycle,
    writer,
    chunkSizeBytes: config.uploads.chunkSizeBytes,
    maxSizeBytes: config.uploads.maxSizeBytes,
    uploadTtlMs,
  });
  // A creation's Idempotency-Key names its upload as long as the upload may live, unfinished then completed.
  const idempotency = new IdempotencyKeys(redis, keys, uploadTtlMs + completedRetentionMs);
  const store = new TrackedStore(uploadStore, async () => {
    const report = await sweeper.sweep();
    return report.expired + report.orphanFiles + report.orphanRecords;
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
    uploadStore,
    tusStore: store,
    idempotency,
    concatenation,
    /** Checks the byte store, and connects what listens in the background (lock release requests). */
    start: async () => {
      // An operator's mistake (a bucket that is not there, or not writable) stops the server with their words.
      await bytes.start?.().catch((error: Error) => {
        throw new ConfigError([error.message]);
      });
      await locker.start();
    },
    stop: async () => {
      await locker.stop();
      await writer.close();
    },
  };
}

export type Uploads = ReturnType<typeof wireUploads>;
