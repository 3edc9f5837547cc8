import { defineConfig } from 'vitest/config';
import SlowestFirst from './test/helpers/sequencer.js';

/** The files that need OpenStack Swift (S3): only a run that includes one of them starts it. */
const S3_FILES = ['test/**/s3-*.test.ts', 'test/**/swift*.test.ts', 'test/**/*-s3.test.ts'];
/** The files that need Azurite (Azure Blob): only a run that includes one of them starts it. */
const AZURE_FILES = ['test/**/azure-*.test.ts', 'test/**/azurite*.test.ts', 'test/**/*-azure.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The tests wait on sockets, child processes and timers far more than they compute: on a 2-core machine,
    // vitest's default (one worker per core but one) would run them one file at a time.
    maxWorkers: 3,
    sequence: { sequencer: SlowestFirst },
    projects: [
      // No I/O, no service: `npm run test:unit`.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'redis',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          exclude: [...S3_FILES, ...AZURE_FILES],
          globalSetup: ['test/helpers/global-redis.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 's3',
          include: S3_FILES,
          globalSetup: ['test/helpers/global-redis.ts', 'test/helpers/global-swift.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'azure',
          include: AZURE_FILES,
          globalSetup: ['test/helpers/global-redis.ts', 'test/helpers/global-azurite.ts'],
        },
      },
    ],
  },
});
