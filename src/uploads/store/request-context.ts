import { AsyncLocalStorage } from 'node:async_hooks';
import type { Caller } from '../../auth/authorizer.js';
import type { Logger } from '../../log.js';
import type { ChecksumExpectation } from '../digests/checksum.js';
import type { UploadRecord } from '../model/upload-record.js';

/**
 * What one tus request tells the store beyond @tus/server's DataStore
 * arguments (which carry no headers), and what the store tells back for the
 * response. Set by the HTTP layer around each tus request.
 */
export type RequestScope = {
  readonly method: string;
  /** The ID @tus/server chose for the upload this request creates. */
  createdId?: string;
  /** `Upload-Concat: partial` on a creation. */
  partial?: boolean;
  /** `Upload-Checksum` of a PATCH, parsed. */
  checksum?: ChecksumExpectation;
  /** The record the store read while serving this request. */
  record?: UploadRecord;
  /**
   * An upload's hash read in the same round trip as the SET that took its
   * lock (queued right behind it on the connection), so it is what the lock
   * holder sees. Consumed by the store's first read of that upload.
   */
  prefetched?: { id: string; hash: Promise<Record<string, string>> };
  /** The record this request just created (a POST reads it back at once). */
  created?: UploadRecord;
  /** Bytes this request stored. */
  stored?: number;
  /** Who sent the request, once authorized, and their limits. */
  caller?: Caller;
  /** Logs with this request's ID. */
  logger?: Logger;
};

export const requestScope = new AsyncLocalStorage<RequestScope>();
