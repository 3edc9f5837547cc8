import { MemoryLocker } from '@tus/server';
import type { Locker } from '@tus/utils';
import cors from 'cors';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { allowsAnyOrigin, type Config } from './config.js';
import { dashboardRoutes } from './http/dashboard.js';
import { jsonErrorHandler, notFound } from './http/errors.js';
import { tusHandler } from './http/tus.js';
import type { Logger } from './log.js';
import { createKeys } from './redis/keys.js';
import { createFileByteStore } from './uploads/byte-store.js';
import { UploadReader } from './uploads/progress.js';
import { TrackedStore } from './uploads/tracked-store.js';
import { UploadTracker } from './uploads/tracker.js';

export type AppDeps = Readonly<{
  config: Config;
  redis: Redis;
  logger: Logger;
  locker?: Locker;
}>;

export type App = Readonly<{
  app: Express;
  store: TrackedStore;
  tracker: UploadTracker;
  reader: UploadReader;
}>;

/** Builds the whole application from its dependencies. It never listens and never reads the environment. */
export function createApp({ config, redis, logger, locker = new MemoryLocker() }: AppDeps): App {
  const keys = createKeys(config.redisKeyPrefix);
  const uploadTtlMs = config.uploadTtlSeconds * 1000;
  const completedRetentionMs = config.completedRetentionSeconds * 1000;
  const tracker = new UploadTracker(redis, keys, {
    completedRetentionMs,
    indexTtlMs: 2 * Math.max(uploadTtlMs, completedRetentionMs),
  });
  const reader = new UploadReader(redis, keys);
  const store = new TrackedStore({
    bytes: createFileByteStore(config.uploadDir),
    tracker,
    reader,
    locker,
    chunkSizeBytes: config.chunkSizeBytes,
    uploadTtlMs,
  });

  const app = express();
  app.disable('x-powered-by');
  if (config.trustProxy) app.set('trust proxy', true);

  const tus = tusHandler({ config, store, tracker, locker, logger });
  app.all([config.tusPath, `${config.tusPath}/*rest`], tus);

  app.use('/api', cors({ origin: allowsAnyOrigin(config) ? '*' : [...config.corsOrigins] }));
  app.use(dashboardRoutes(reader));
  app.use(notFound);
  app.use(jsonErrorHandler(logger));
  return { app, store, tracker, reader };
}
