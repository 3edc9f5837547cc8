import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import type { ByteStore } from '../bytes/byte-store.js';
import type { UploadLifecycle } from '../lifecycle/upload-lifecycle.js';
import type { UploadReader } from '../read/upload-reader.js';
import type { UploadTracker } from '../state/tracker.js';
import type { RedisLocker } from './redis-locker.js';

/** What work on uploads outside one tus request (the sweeper, concatenation) is given by the composition root. */
export type UploadServices = Readonly<{
  redis: RedisClient;
  keys: Keys;
  bytes: ByteStore;
  tracker: UploadTracker;
  reader: UploadReader;
  lifecycle: UploadLifecycle;
  locker: RedisLocker;
}>;
