import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cors from 'cors';
import express, { type Express } from 'express';
import { allowsAnyOrigin, type Config } from './config.js';
import { dashboardRoutes } from './http/dashboard.js';
import { downloadHandler } from './http/download.js';
import { Drain } from './http/drain.js';
import { jsonErrorHandler, notFound } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { liveRoutes } from './http/live.js';
import { requestLogging } from './http/request-log.js';
import { tusHandler } from './http/tus.js';
import type { Logger } from './log.js';
import { countUploadEvents, createMetrics, type Metrics, observeRedisCommands } from './metrics.js';
import type { RedisClient } from './redis/client.js';
import { createKeys } from './redis/keys.js';
import { fanOut } from './uploads/events.js';
import { publishUploadEvents, UploadEventFeed } from './uploads/live.js';
import { UploadReader } from './uploads/progress.js';
import { createUploadService, type UploadService } from './uploads/service.js';

export type AppDeps = Readonly<{
  config: Config;
  redis: RedisClient;
  logger: Logger;
}>;

export type App = UploadService &
  Readonly<{
    app: Express;
    drain: Drain;
    metrics: Metrics;
  }>;

/** dist/demo, from src/app.ts as from dist/app.js. */
const DEMO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'demo');

/** Builds the whole application from its dependencies. It never listens and never reads the environment. */
export function createApp({ config, redis, logger }: AppDeps): App {
  const metrics = createMetrics();
  const keys = createKeys(config.redisKeyPrefix);
  const feed = new UploadEventFeed(redis.duplicate(), keys, logger);
  const events = fanOut(
    [countUploadEvents(metrics), publishUploadEvents(redis, keys, new UploadReader(redis, keys), logger)],
    (error) => logger.error({ err: error }, 'an event consumer failed'),
  );
  const uploads = createUploadService({
    config,
    redis,
    logger,
    events,
    lockHooks: {
      acquired: (waitedMs, contended) => {
        metrics.lockWait.observe(waitedMs / 1000);
        if (contended) metrics.lockContention.inc();
      },
    },
  });
  const drain = new Drain();
  let stopObservingRedis = () => {};

  const app = express();
  app.disable('x-powered-by');
  if (config.trustProxy) app.set('trust proxy', true);

  app.use(requestLogging(logger, metrics));
  // The demo pages, bundled into dist/demo by `npm run build` (which `npm start` runs first).
  app.get('/', (_req, res) => res.redirect('/demo/'));
  app.use('/demo', express.static(DEMO_DIR, { index: 'index.html' }));
  app.use(healthRoutes(redis, config.uploadDir, drain));
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(drain.guard);
  app.get(`${config.tusPath}/:id`, downloadHandler(config, uploads.reader, uploads.bytes));
  const tus = tusHandler({ ...uploads, config, drain, logger, metrics });
  app.all([config.tusPath, `${config.tusPath}/*rest`], tus);

  app.use('/api', cors({ origin: allowsAnyOrigin(config) ? '*' : [...config.corsOrigins] }));
  app.use(dashboardRoutes(uploads.reader));
  app.use(liveRoutes(uploads.reader, feed, config.dashboardToken));
  app.use(notFound);
  app.use(jsonErrorHandler(logger));
  return {
    ...uploads,
    app,
    drain,
    metrics,
    start: async () => {
      stopObservingRedis = observeRedisCommands(metrics);
      await uploads.start();
      await feed.start();
    },
    stop: async () => {
      stopObservingRedis();
      feed.stop();
      await uploads.stop();
    },
  };
}
