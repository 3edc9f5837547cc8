import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { type RedisServerProcess, startRedisServer } from '../../src/redis/local-server.js';
import { expectNothingLost, runChaos } from '../helpers/chaos.js';
import { killAllServerProcesses } from '../helpers/server-process.js';

let redisServer: RedisServerProcess;
let redis: Redis;
beforeAll(async () => {
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

describe('chaos: three instances, 40 uploads, instances killed and paused, Redis paused', () => {
  it('on disk: every upload completes once, byte-identical, with an exact record and no lock left', async () => {
    const dir = mkdtempSync(path.join(inject('tmpRoot'), 'chaos-'));
    const report = await runChaos({ env: () => ({ UPLOAD_DIR: dir }), redis: redisServer, uploads: 40, seed: 20 });
    try {
      await expectNothingLost(report, redis);
    } finally {
      await report.balancer.close();
    }
  }, 300_000);
});
