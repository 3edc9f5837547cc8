import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { type RedisServerProcess, startRedisServer } from '../../src/redis/local-server.js';
import { expectNothingLost, runChaos } from '../helpers/chaos.js';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';
import { killAllServerProcesses } from '../helpers/server-process.js';

let storage: S3Storage;
let redisServer: RedisServerProcess;
let redis: Redis;
beforeAll(async () => {
  storage = await s3Storage();
  // Its own Redis: the run pauses it.
  redisServer = await startRedisServer({
    dir: mkdtempSync(path.join(inject('tmpRoot'), 'chaos-redis-')),
    appendOnly: false,
  });
  redis = new Redis(redisServer.url);
});
afterAll(async () => {
  await killAllServerProcesses();
  redis.disconnect();
  await redisServer.stop();
});

describe('chaos on S3: three instances sharing a bucket, instances killed and paused, Redis paused', () => {
  it('every upload completes once, byte-identical, with an exact record and no lock left', async () => {
    const shared = storage.env();
    const report = await runChaos({
      // No shared disk: each instance has a directory of its own.
      env: () => ({ ...shared, UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'chaos-s3-')) }),
      redis: redisServer,
      uploads: 40,
      seed: 21,
    });
    try {
      await expectNothingLost(report, redis);
    } finally {
      await report.balancer.close();
    }
  }, 300_000);
});
