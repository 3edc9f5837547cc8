import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { chaosRedis, expectNothingLost, runChaos } from '../helpers/chaos.js';

let redis: Awaited<ReturnType<typeof chaosRedis>>;
beforeAll(async () => {
  redis = await chaosRedis(inject('tmpRoot'));
});
afterAll(() => redis.stop());

describe('chaos: three instances, 40 uploads, instances killed and paused, Redis paused', () => {
  it('on disk: every upload completes once, byte-identical, with an exact record and no lock left', async () => {
    const dir = mkdtempSync(path.join(inject('tmpRoot'), 'chaos-'));
    const report = await runChaos({ env: () => ({ UPLOAD_DIR: dir }), redis: redis.server, uploads: 40, seed: 20 });
    try {
      await expectNothingLost(report, redis.client);
    } finally {
      await report.balancer.close();
    }
  }, 300_000);
});
