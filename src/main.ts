#!/usr/bin/env node
import { Cluster } from 'ioredis';
// The standalone server uses the library's own API, as an application embedding it would.
import {
  ConfigError,
  createApp,
  createHttpServer,
  createLogger,
  createRedisClient,
  describeConnectionFailure,
  findRedis,
  type Logger,
  loadConfig,
  type RedisClient,
} from './index.js';

/** tus state is not a cache: a policy that evicts keys can drop a live upload's record (on any master of a cluster). */
async function warnIfEvicting(redis: RedisClient, logger: Logger): Promise<void> {
  for (const node of redis instanceof Cluster ? redis.nodes('master') : [redis]) {
    try {
      const [, policy] = (await node.config('GET', 'maxmemory-policy')) as [string, string];
      if (policy !== 'noeviction') {
        logger.warn(
          { policy, node: `${node.options.host}:${node.options.port}` },
          `Redis maxmemory-policy is "${policy}": under memory pressure Redis may EVICT LIVE UPLOAD STATE. Use "noeviction".`,
        );
      }
    } catch (error) {
      logger.warn(
        { err: error },
        'could not read Redis maxmemory-policy (CONFIG GET refused); make sure it is "noeviction"',
      );
    }
  }
}

/** A configuration error is reported, one line per problem, and the process exits with code 2. */
function exitOnConfigError<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
}

/** A Redis that cannot be reached, or is not Redis, ends the start with one line naming REDIS_URL (exit 2). */
async function connectRedis(url: string, commandTimeoutMs: number, logger: Logger): Promise<RedisClient> {
  const redis = createRedisClient(url, { commandTimeoutMs });
  let first: unknown;
  const early = (error: unknown) => {
    first ??= error;
  };
  redis.on('error', early);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    console.error(`REDIS_URL: ${describeConnectionFailure(url, first ?? error)}`);
    process.exit(2);
  }
  redis.off('error', early);
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  return redis;
}

async function main(): Promise<void> {
  // On Node 20 the AWS SDK prints a 7-line NodeVersionSupportWarning to stderr at its first client (its releases
  // after January 2027 need Node 22). This server pins its SDK release and README.md says which Node lines it runs
  // on. Set here, for this process only: an application that embeds the server keeps its own choice. An operator
  // who wants the warning sets the variable to anything but "true".
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config = exitOnConfigError(() => loadConfig());
  const logger = createLogger(config.server.logLevel);
  const { url, local } = await findRedis({ redisUrl: config.redis.url, uploadDir: config.storage.uploadDir }, logger);
  // Whatever way this process ends, a redis-server it started ends with it.
  if (local) process.once('exit', () => local.process.kill('SIGTERM'));
  const redis = await connectRedis(url, config.redis.commandTimeoutMs, logger);
  await warnIfEvicting(redis, logger);

  const app = exitOnConfigError(() => createApp({ config, redis, logger }));
  await app.start().catch((error) => {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  });
  const server = createHttpServer(app.app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, resolve);
  }).catch((error: NodeJS.ErrnoException) => {
    console.error(
      `PORT: cannot listen on ${config.server.host}:${config.server.port}: ${error.code ?? error.message}. Set PORT (or HOST) to a free address.`,
    );
    process.exit(2);
  });
  logger.info(
    {
      address: server.address(),
      tusPath: config.server.tusPath,
      uploadDir: config.storage.uploadDir,
      // The name other instances' logs give this one ("took over the lock of an instance taken for dead", from).
      instance: app.locker.liveness.id,
    },
    'serving tus uploads',
  );

  const sweep = setInterval(() => {
    app.sweeper
      .sweep()
      .then((report) => {
        if (report.expired + report.orphanFiles + report.orphanRecords > 0) logger.info(report, 'swept uploads');
      })
      .catch((error) => logger.warn({ err: error }, 'sweep failed'));
  }, config.sweeper.intervalMs);
  sweep.unref();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const boundMs = config.server.shutdownTimeoutMs;
    logger.info({ signal, boundMs }, 'shutting down: refusing new requests, letting in-flight ones finish');
    const forced = setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, boundMs);
    forced.unref();
    clearInterval(sweep);
    // Still listening while draining: /healthz answers 200 and /readyz 503 (a balancer takes this instance out), and
    // every other new request 503 with Retry-After and Connection: close.
    server.closeIdleConnections();
    // Half the bound to finish; then long uploads are cut: each stops reading, stores and records what it
    // received, and is answered 503 (Connection: close).
    await app.drain.drain(boundMs / 2, () => {
      app.locker.stopWaiting();
      app.locker.releaseAll();
    });
    await new Promise((resolve) => server.close(resolve));
    await app.stop();
    await redis.quit().catch(() => {});
    await local?.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
