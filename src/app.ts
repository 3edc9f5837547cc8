import cors from 'cors';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { allowsAnyOrigin, type Config } from './config.js';
import { dashboardRoutes } from './http/dashboard.js';
import { downloadHandler } from './http/download.js';
import { Drain } from './http/drain.js';
import { jsonErrorHandler, notFound } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { tusHandler } from './http/tus.js';
import type { Logger } from './log.js';
import { createKeys } from './redis/keys.js';
import { createFileByteStore } from './uploads/byte-store.js';
import { Concatenation } from './uploads/concatenation.js';
import { lockerOptions, RedisLocker } from './uploads/locker.js';
import { UploadReader } from './uploads/progress.js';
import { requestScope } from './uploads/request-scope.js';
import { Sweeper } from './uploads/sweeper.js';
import { TrackedStore } from './uploads/tracked-store.js';
import { UploadTracker } from './uploads/tracker.js';
import { isUploadId } from './uploads/upload-id.js';

export type AppDeps = Readonly<{
  config: Config;
  redis: Redis;
  logger: Logger;
}>;

export type App = Readonly<{
  app: Express;
  store: TrackedStore;
  tracker: UploadTracker;
  reader: UploadReader;
  locker: RedisLocker;
  sweeper: Sweeper;
  drain: Drain;
  /** Connects what listens in the background (lock release requests). */
  start(): Promise<void>;
  stop(): Promise<void>;
}>;

/** Builds the whole application from its dependencies. It never listens and never reads the environment. */
export function createApp({ config, redis, logger }: AppDeps): App {
  const keys = createKeys(config.redisKeyPrefix);
  const uploadTtlMs = config.uploadTtlSeconds * 1000;
  const completedRetentionMs = config.completedRetentionSeconds * 1000;
  const tracker = new UploadTracker(redis, keys, {
    completedRetentionMs,
    indexTtlMs: 2 * Math.max(uploadTtlMs, completedRetentionMs),
  });
  const reader = new UploadReader(redis, keys);
  const bytes = createFileByteStore(config.uploadDir);
  const locker = new RedisLocker(
    redis,
    redis.duplicate(),
    keys,
    lockerOptions(config.lockTtlMs, config.lockAcquireTimeoutMs),
    logger,
    // A tus request reads the upload's record right after taking its lock: read it in the same round trip.
    (id) => {
      const scope = requestScope.getStore();
      if (!scope || !isUploadId(id)) return;
      const hash = reader.readHash(id);
      hash.catch(() => {}); // whoever consumes it sees the error; unconsumed, it is dropped
      scope.prefetched = { id, hash };
    },
  );
  const sweeper = new Sweeper(
    { redis, keys, bytes, tracker, reader, locker, logger },
    { orphanIntervalMs: config.orphanSweepIntervalSeconds * 1000, orphanGraceMs: 60_000, budgetMs: 30_000 },
  );
  const store = new TrackedStore({
    bytes,
    tracker,
    reader,
    sweeper,
    chunkSizeBytes: config.chunkSizeBytes,
    maxSizeBytes: config.maxSizeBytes,
    uploadTtlMs,
    progressIntervalMs: config.progressIntervalMs,
    digest: config.uploadDigest === 'sha256',
    onLateError: (error) => logger.warn({ err: error }, 'could not record progress'),
    fence: (id) => locker.fence(id),
  });
  const concatenation = new Concatenation({
    redis,
    keys,
    bytes,
    tracker,
    reader,
    locker,
    chunkSizeBytes: config.chunkSizeBytes,
    maxSizeBytes: config.maxSizeBytes,
    uploadTtlMs,
    removePartials: config.removePartialsAfterConcat,
    digest: config.uploadDigest === 'sha256',
  });
  const drain = new Drain();

  const app = express();
  app.disable('x-powered-by');
  if (config.trustProxy) app.set('trust proxy', true);

  app.use(healthRoutes(redis, config.uploadDir, drain));
  app.use(drain.guard);
  app.get(`${config.tusPath}/:id`, downloadHandler(config, reader, bytes));
  const tus = tusHandler({ config, store, tracker, concatenation, locker, drain, logger });
  app.all([config.tusPath, `${config.tusPath}/*rest`], tus);

  app.use('/api', cors({ origin: allowsAnyOrigin(config) ? '*' : [...config.corsOrigins] }));
  app.use(dashboardRoutes(reader));
  app.use(notFound);
  app.use(jsonErrorHandler(logger));
  return {
    app,
    store,
    tracker,
    reader,
    locker,
    sweeper,
    drain,
    start: () => locker.start(),
    stop: async () => {
      await locker.stop();
      await store.writer.close();
    },
  };
}
