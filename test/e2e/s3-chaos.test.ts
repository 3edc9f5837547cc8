import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { chaosRedis, expectNothingLost, runChaos } from '../helpers/chaos.js';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';

let storage: S3Storage;
let redis: Awaited<ReturnType<typeof chaosRedis>>;
beforeAll(async () => {
  storage = await s3Storage();
  redis = await chaosRedis(inject('tmpRoot'));
});
afterAll(() => redis.stop());

describe('chaos on S3: three instances sharing a bucket, instances killed and paused, Redis paused', () => {
  it('every upload completes once, byte-identical, with an exact record and no lock left', async () => {
    const shared = storage.env();
    const report = await runChaos({
      // No shared disk: each instance has a directory of its own.
      env: () => ({ ...shared, UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'chaos-s3-')) }),
      redis: redis.server,
      uploads: 40,
      seed: 21,
    });
    try {
      await expectNothingLost(report, redis.client);
    } finally {
      await report.balancer.close();
    }
  }, 300_000);
});
