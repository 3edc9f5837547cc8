import type { Logger } from '../../../log.js';
import type { ByteStates } from '../parts/byte-state.js';
import type { S3Bucket } from './s3-bucket.js';

/** What the S3 byte store and its parts (multipart, seal, concatenation, objects) work with. */
export type S3ByteStoreDeps = Readonly<{
  bucket: S3Bucket;
  states: ByteStates;
  /** The upload's declared size, read from its record (undefined while deferred). */
  sizeOf: (id: string) => Promise<number | undefined>;
  /** Where a body of unknown length is spooled, one part at a time. */
  spoolDir: string;
  logger: Logger;
}>;
