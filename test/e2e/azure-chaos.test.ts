import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type AzureStorage, azureStorage } from '../helpers/azure-storage.js';
import { chaosRedis, expectNothingLost, runChaos } from '../helpers/chaos.js';

let storage: AzureStorage;
let redis: Awaited<ReturnType<typeof chaosRedis>>;
beforeAll(async () => {
  storage = await azureStorage();
  redis = await chaosRedis(inject('tmpRoot'));
});
afterAll(() => redis.stop());

describe('chaos on Azure: three instances sharing a container, instances killed and paused, Redis paused', () => {
  it('every upload completes once, byte-identical, with an exact record and no lock left, no blob of staged blocks only', async () => {
    const shared = storage.env();
    const prefix = shared.AZURE_BLOB_PREFIX as string;
    const report = await runChaos({
      // No shared disk: each instance has a directory of its own.
      env: () => ({ ...shared, UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'chaos-azure-')) }),
      redis: redis.server,
      uploads: 40,
      seed: 23,
    });
    try {
      await expectNothingLost(report, redis.client);
      // Every upload's blocks went into its blob: none is left with staged blocks only.
      expect((await storage.contents(prefix)).uncommitted).toEqual([]);
    } finally {
      await report.balancer.close();
    }
  }, 300_000);
});
