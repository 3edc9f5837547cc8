#!/usr/bin/env node
// npm run migrate-redis: moves the uploads in Redis to the key layout this build uses (docs/operations.md,
// "Upgrading to bucketed keys"). Reads the server's own settings (REDIS_URL, REDIS_KEY_PREFIX, REDIS_BUCKETS).
// Exit 0: every upload is in this layout; 1: some were locked by running instances of another layout (stop them
// and run again); 2: a setting or Redis could not be used.
import {
  ConfigError,
  createLogger,
  createRedisClient,
  describeConnectionFailure,
  findRedis,
  loadConfig,
} from './index.js';
import { keysFor } from './redis/keys.js';
import { migrateKeys } from './redis/migrate-keys.js';
import { indexTtlOf } from './uploads/state/indexes.js';

async function main(): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  const logger = createLogger(config.server.logLevel);
  const { url, local } = await findRedis({ redisUrl: config.redis.url, uploadDir: config.storage.uploadDir }, logger);
  const redis = createRedisClient(url, { commandTimeoutMs: Math.max(config.redis.commandTimeoutMs, 10_000) });
  try {
    redis.on('error', () => {});
    try {
      await redis.connect();
    } catch (error) {
      console.error(`REDIS_URL: ${describeConnectionFailure(url, error)}`);
      return 2;
    }
    const keys = keysFor(config.redis);
    const report = await migrateKeys(redis, keys, indexTtlOf(config.uploads));
    console.log(
      `migrate-redis: ${report.moved} upload(s) moved to the layout of ${keys.buckets.tags.length} bucket(s), ` +
        `${report.current} already in it` +
        (report.expiredEntries > 0 ? `; ${report.expiredEntries} expired upload(s) handed to the sweeper` : ''),
    );
    if (report.left.length === 0) return 0;
    console.error(
      `migrate-redis: ${report.left.length} upload(s) left in an earlier layout, locked or made during this run by ` +
        `a running instance of it (${report.left.slice(0, 5).join(', ')}${report.left.length > 5 ? ', …' : ''}): ` +
        'stop every instance of the earlier build, then run this again',
    );
    return 1;
  } finally {
    redis.disconnect();
    local?.process.kill('SIGTERM');
  }
}

process.exitCode = await main();
