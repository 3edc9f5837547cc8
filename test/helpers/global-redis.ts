import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startRedisServer } from '../../src/redis/local-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** A directory for this run's files; each test makes its own folder inside. Removed at the end. */
    tmpRoot: string;
  }
}

/**
 * One redis-server for the whole run, on a free port (never 6379, where
 * another server may run). Tests isolate themselves by key prefix. If it
 * cannot start, the run fails: no test skips for want of Redis.
 */
export default async function setup(project: TestProject) {
  const root = mkdtempSync(path.join(tmpdir(), 'tus-redis-test-'));
  const redis = await startRedisServer({ dir: path.join(root, 'redis'), appendOnly: false });
  project.provide('redisUrl', redis.url);
  project.provide('tmpRoot', root);
  return async () => {
    await redis.stop();
    rmSync(root, { recursive: true, force: true });
  };
}
