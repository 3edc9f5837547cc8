import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cors from 'cors';
import express, { type Express } from 'express';
import type { Authorizer } from '../auth/authorizer.js';
import { UploadAccess } from '../auth/upload-access.js';
import { allowsAnyOrigin, type Config, ConfigError } from '../config/load-config.js';
import type { PreCreateHook } from '../hooks/pre-create-hook.js';
import { liveRoutes } from '../http/api/live-routes.js';
import { dashboardRoutes } from '../http/api/progress-routes.js';
import { downloadHandler } from '../http/download.js';
import { Drain } from '../http/drain.js';
import { jsonErrorHandler, notFound } from '../http/errors.js';
import { healthRoutes } from '../http/health.js';
import { refuseDotSegments, refuseMalformedPaths } from '../http/path-guard.js';
import { requestLogging } from '../http/request-log.js';
import { methodOverride } from '../http/tus/tus-rules.js';
import { uploadEndpoint } from '../http/upload-endpoint.js';
import type { Logger } from '../log.js';
import { countUploadEvents, createMetrics, type Metrics, observeRedisCommands } from '../metrics.js';
import { subscriberOf } from '../redis/channels.js';
import type { RedisClient } from '../redis/client.js';
import { type Keys, keysFor } from '../redis/keys.js';
import { holdsLegacyLayout } from '../redis/migrate-keys.js';
import { logCompletions } from '../uploads/events/completion-log.js';
import { publishUploadEvents, UploadEventFeed } from '../uploads/events/live-feed.js';
import { fanOut, type UploadEventConsumer } from '../uploads/events/upload-events.js';
import { UploadReader } from '../uploads/read/upload-reader.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { webhookOutbox } from '../webhooks/outbox.js';
import { authorizerFromConfig, preCreateFromConfig } from './from-config.js';
import { type Uploads, wireUploads } from './wire-uploads.js';

/** The readiness check of each byte store, by what it probes. */
const READINESS_CHECK = { file: 'uploadDir', s3: 'bucket', azure: 'container' } as const;

export type AppDeps = Readonly<{
  config: Config;
  redis: RedisClient;
  logger: Logger;
  /**
   * Decides who may touch which upload (see Authorizer). Default: from the
   * configuration (bearer tokens, pre-request hook); null: everyone may.
   */
  authorize?: Authorizer | null;
  /** Runs before each upload is created. Default: PRE_CREATE_HOOK_URL; null: none. */
  preCreate?: PreCreateHook | null;
  /** In-process listeners of upload events (awaited, like the webhook outbox). */
  onEvent?: readonly UploadEventConsumer[];
  /** Serve the demo pages at /demo (and redirect / there). Default true; an app embedding this one may want its own /. */
  demo?: boolean;
}>;

export type App = Uploads &
  Readonly<{
    app: Express;
    keys: Keys;
    reader: UploadReader;
    drain: Drain;
    metrics: Metrics;
    access: UploadAccess;
    webhooks: WebhookDispatcher;
  }>;

/** dist/demo, from src/app.ts as from dist/app.js. */
const DEMO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'demo');

/**
 * Builds the whole application from its dependencies. It never listens and
 * never reads the environment. `app` is an Express app: serve it (as the
 * standalone server does), or mount it in your own with `yours.use(app)`.
 */
export function createApp(deps: AppDeps): App {
  const { config, redis, logger } = deps;
  const authorize = deps.authorize === undefined ? authorizerFromConfig(config) : (deps.authorize ?? undefined);
  const preCreate = deps.preCreate === undefined ? preCreateFromConfig(config) : (deps.preCreate ?? undefined);
  if (config.limits.maxConcurrentUploads > 0 && !authorize) {
    // Uploads are counted per owner, and without an authorizer no request has one: the limit would do nothing.
    throw new ConfigError([
      'OWNER_MAX_CONCURRENT_UPLOADS: uploads are counted per owner, and no owner is known without AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or PRE_REQUEST_HOOK_URL (or an authorize function)',
    ]);
  }
  const metrics = createMetrics();
  const keys = keysFor(config.redis);
  const reader = new UploadReader(redis, keys);
  const feed = new UploadEventFeed(subscriberOf(redis), keys, reader, logger);
  const webhooks = new WebhookDispatcher(redis, keys, config.webhooks, logger, (outcome) =>
    metrics.webhookDeliveries.inc({ outcome }),
  );
  const outbox = webhookOutbox({
    redis,
    keys,
    reader,
    storagePath: (id) => uploads.bytes.location(id),
    config: config.webhooks,
    tusPath: config.server.tusPath,
    logger,
    appended: () => webhooks.wake(),
    markAnnounced: (id, status) => uploads.tracker.markAnnounced(id, status),
  });
  const events = fanOut(
    [
      countUploadEvents(metrics),
      publishUploadEvents(redis, keys, logger),
      outbox.consume,
      logCompletions(reader, logger),
      ...(deps.onEvent ?? []),
    ],
    (error, event) => logger.error({ err: error, event: event.type }, 'an event consumer failed'),
  );
  const access = new UploadAccess(authorize, redis, keys, config.limits);
  const uploads: Uploads = wireUploads({
    config,
    redis,
    keys,
    reader,
    logger,
    events,
    revisit: outbox.revisit,
    storageTraffic: (direction, bytes) => metrics.storageBytes.inc({ direction }, bytes),
    lockHooks: {
      tookOver: () => metrics.lockTakeovers.inc(),
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
  // Every JSON answer is Cache-Control: no-store; an ETag (a hash of each body) would serve nothing.
  app.set('etag', false);
  // One reverse proxy in front: the client's address is the one it reports (the last X-Forwarded-For hop), never
  // one a client wrote itself further left.
  if (config.server.trustProxy) app.set('trust proxy', 1);

  app.use(requestLogging(logger, metrics));
  app.use(refuseDotSegments, refuseMalformedPaths(config.server.tusPath));
  // The tus endpoint first: its requests (nearly all of them) walk no other route.
  const tusRoutes = [config.server.tusPath, `${config.server.tusPath}/*rest`];
  app.all(tusRoutes, drain.guard, methodOverride(config, logger));
  app.get(
    `${config.server.tusPath}/:id`,
    downloadHandler({ config, reader, bytes: uploads.bytes, lifecycle: uploads.lifecycle, access }),
  );
  app.all(tusRoutes, uploadEndpoint({ ...uploads, config, drain, logger, metrics, access, preCreate }));
  // Then the dashboards' reads, which may come hundreds a second.
  app.use('/api', drain.guard, cors({ origin: allowsAnyOrigin(config) ? '*' : [...config.server.corsOrigins] }));
  app.use(dashboardRoutes(reader, access, () => uploads.uploadStore.grid));
  app.use(liveRoutes(reader, feed, access, config.dashboard));
  if (deps.demo !== false) {
    // The demo pages, bundled into dist/demo by `npm run build` (which `npm start` runs first).
    app.get('/', (_req, res) => res.redirect('/demo/'));
    app.use('/demo', express.static(DEMO_DIR, { index: 'index.html' }));
  }
  app.use(
    healthRoutes(
      {
        // A write, not a PING: a Redis that answers but refuses writes (out of memory, read-only) cannot take uploads.
        redis: () =>
          redis.set(keys.readinessProbe, '1', 'PX', 10_000).then(
            () => 'ok',
            (error: Error) => `unavailable: ${error.message}`,
          ),
        [READINESS_CHECK[config.storage.kind]]: () => uploads.bytes.probe(),
      },
      drain,
    ),
  );
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(drain.guard);

  // Only under this server's own paths: an app that mounts this one serves the rest.
  app.use([config.server.tusPath, '/api'], notFound);
  app.use(jsonErrorHandler(logger));
  return {
    ...uploads,
    keys,
    reader,
    app,
    drain,
    metrics,
    access,
    webhooks,
    start: async () => {
      if (await holdsLegacyLayout(redis, keys.prefix)) {
        // Its uploads would be out of sight: refused, before anything is served or written.
        throw new ConfigError([
          `REDIS_KEY_PREFIX "${keys.prefix}": Redis holds uploads in the key layout of an earlier build. Stop every instance of that build, run \`npm run migrate-redis\` with these settings, then start this one (docs/operations.md)`,
        ]);
      }
      stopObservingRedis = observeRedisCommands(metrics);
      await uploads.start();
      await feed.start();
      webhooks.start();
    },
    stop: async () => {
      stopObservingRedis();
      feed.stop();
      await webhooks.stop();
      await uploads.stop();
    },
  };
}
