import { createServer } from 'node:http';
import { createApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { createRedisClient } from './redis/client.js';
import { findRedis } from './redis/local-server.js';

/** A socket silent this long is closed (a stalled client's received bytes are kept). */
const IDLE_SOCKET_TIMEOUT_MS = 60_000;
const SHUTDOWN_TIMEOUT_MS = 10_000;

/** tus state is not a cache: a policy that evicts keys can drop a live upload's record. */
async function warnIfEvicting(redis: ReturnType<typeof createRedisClient>, logger: Logger): Promise<void> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy !== 'noeviction') {
      logger.warn(
        { policy },
        `Redis maxmemory-policy is "${policy}": under memory pressure Redis may evict live upload state. Use "noeviction".`,
      );
    }
  } catch (error) {
    logger.warn(
      { err: error },
      'could not read Redis maxmemory-policy (CONFIG GET refused); make sure it is "noeviction"',
    );
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  const { url, local } = await findRedis(config, logger);
  const redis = createRedisClient(url, { commandTimeoutMs: config.redisCommandTimeoutMs });
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  await redis.connect();
  await warnIfEvicting(redis, logger);

  const { app, store } = createApp({ config, redis, logger });
  const server = createServer(app);
  // A healthy PATCH may stream for hours: no limit on a whole request, only on silence.
  server.requestTimeout = 0;
  server.timeout = IDLE_SOCKET_TIMEOUT_MS;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  logger.info(
    { address: server.address(), tusPath: config.tusPath, uploadDir: config.uploadDir },
    'serving tus uploads',
  );

  const sweep = setInterval(() => {
    store
      .deleteExpired()
      .then((removed) => removed > 0 && logger.info({ removed }, 'removed expired uploads'))
      .catch((error) => logger.warn({ err: error }, 'expiry sweep failed'));
  }, config.sweepIntervalSeconds * 1000);
  sweep.unref();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    clearInterval(sweep);
    setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref();
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeIdleConnections();
    });
    await redis.quit().catch(() => {});
    await local?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
