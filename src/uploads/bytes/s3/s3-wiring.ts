import type { Logger } from '../../../log.js';
import type { RedisClient } from '../../../redis/client.js';
import type { Keys } from '../../../redis/keys.js';
import type { StorageTraffic } from '../byte-store.js';
import { ByteStates } from '../parts/byte-state.js';
import { S3Bucket } from './s3-bucket.js';
import { S3ByteStore } from './s3-byte-store.js';
import { createS3Client, type S3Settings } from './s3-client.js';

export type S3Wiring = Readonly<{
  settings: S3Settings;
  redis: RedisClient;
  keys: Keys;
  /** The upload's declared size, read from its record (undefined while deferred). */
  sizeOf: (id: string) => Promise<number | undefined>;
  spoolDir: string;
  logger: Logger;
  traffic: StorageTraffic;
}>;

/** The S3 byte store with its client, bucket and recorded state (imported only with STORAGE=s3: see DeferredS3Store). */
export function createS3ByteStore({ settings, redis, keys, sizeOf, spoolDir, logger, traffic }: S3Wiring): S3ByteStore {
  return new S3ByteStore({
    bucket: new S3Bucket(createS3Client(settings, logger), settings, logger, traffic),
    states: new ByteStates(redis, keys),
    sizeOf,
    spoolDir,
    logger,
  });
}
