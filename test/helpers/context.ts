import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { afterEach, beforeEach, inject } from 'vitest';
import { createApp } from '../../src/app/create-app.js';
import { type Config, loadConfig } from '../../src/config/load-config.js';
import { createHttpServer } from '../../src/http/server.js';
import { createLogger, type Logger } from '../../src/log.js';
import type { RedisClient } from '../../src/redis/client.js';
import { createRedisClient } from '../../src/redis/client.js';
import { type Keys, keysFor } from '../../src/redis/keys.js';

export type TestContext = Awaited<ReturnType<typeof createTestContext>>;

/**
 * The app as main.ts builds it, on the test run's Redis, isolated by a unique
 * key prefix and a fresh upload directory.
 */
export async function createTestContext(
  env: Record<string, string> = {},
  redisUrl = inject('redisUrl'),
  logger: Logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
) {
  // Left in place when the test ends (FileStore starts a mkdir it never awaits,
  // which fails if the folder vanishes under it); the run's tmpRoot is removed at the end.
  const dir = mkdtempSync(path.join(inject('tmpRoot'), 'uploads-'));
  const prefix = `test-${randomUUID()}:`;
  const config: Config = loadConfig({ UPLOAD_DIR: dir, REDIS_KEY_PREFIX: prefix, REDIS_URL: redisUrl, ...env });
  const redis: RedisClient = createRedisClient(redisUrl, { commandTimeoutMs: config.redis.commandTimeoutMs });
  redis.on('error', () => {});
  await redis.connect();
  const keys: Keys = keysFor(config.redis);
  const built = createApp({ config, redis, logger });
  await built.start();
  const servers: Server[] = [];

  return {
    ...built,
    config,
    redis,
    keys,
    dir: config.storage.uploadDir,
    prefix: config.redis.keyPrefix,
    /** Serves the app on a real loopback port (for tus-js-client and raw sockets); returns its base URL. */
    async listen(headersTimeoutMs?: number): Promise<string> {
      const server = createHttpServer(built.app, headersTimeoutMs);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    },
    /** Every key of this test's prefix. */
    async allKeys(): Promise<string[]> {
      return (await redis.keys(`${prefix}*`)).sort();
    },
    async close(): Promise<void> {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await built.stop();
      redis.disconnect();
    },
  };
}

/**
 * A fresh app for each test of a file, listening on a loopback port: `app.ctx`
 * and its `app.base` URL are the current test's, closed after it.
 */
export function appPerTest(env: Record<string, string> = {}): { readonly ctx: TestContext; readonly base: string } {
  const app = {} as { ctx: TestContext; base: string };
  beforeEach(async () => {
    app.ctx = await createTestContext(env);
    app.base = await app.ctx.listen();
  });
  afterEach(() => app.ctx.close());
  return app;
}

/** Bytes the app sent to its object store and read back from it, by its own metric. */
export async function storageTraffic(ctx: TestContext): Promise<{ sent: number; read: number }> {
  const values = (await ctx.metrics.storageBytes.get()).values;
  const of = (direction: string) => values.find((v) => v.labels.direction === direction)?.value ?? 0;
  return { sent: of('sent'), read: of('read') };
}
