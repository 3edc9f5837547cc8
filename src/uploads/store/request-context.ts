import { AsyncLocalStorage } from 'node:async_hooks';
import type { Readable } from 'node:stream';
import type { Logger } from '../../log.js';
import type { ChecksumExpectation } from '../digests/checksum.js';
import type { UploadRecord } from '../model/upload-record.js';

/** What one owner may do (0: no limit). */
export type OwnerLimits = Readonly<{ maxSizeBytes: number; maxConcurrentUploads: number }>;

/** Who a request comes from, once authorized, and what they may do. */
export type Caller = Readonly<{ owner: string | undefined; limits: OwnerLimits }>;

/**
 * What one tus request tells the store beyond @tus/server's DataStore
 * arguments (which carry no headers). Set once, by the HTTP layer, before
 * @tus/server sees the request; never changed after.
 */
export type TusRequestInput = Readonly<{
  method: string;
  /** Logs with this request's ID. */
  logger: Logger;
  /** Authorized before any byte is read. */
  caller: Caller;
  /** `Upload-Concat: partial` on a creation. */
  partial: boolean;
  /** `Upload-Checksum` of a PATCH, parsed. */
  checksum: ChecksumExpectation | undefined;
  /** The body's length (Content-Length), when the request says it. */
  bodyLength: number | undefined;
  /**
   * The request's body, which the store reads itself, straight from the
   * request (@tus/server is then handed a request without one). Undefined
   * when the store reads the stream it is given.
   */
  body?: Readable;
}>;

/** What the store tells the HTTP layer about the request, for its response and its log line. Written by the store only. */
export type TusRequestOutcome = {
  /** The upload this request created. */
  createdId: string | undefined;
  /** The upload's record as the store read it (HEAD answers Upload-Concat from it). */
  record: UploadRecord | undefined;
  /** Bytes this request stored. */
  stored: number | undefined;
  /** Its body was cut short because another request took the upload over (the draft's "a new request ends the one in flight"). */
  superseded: boolean;
};

export type TusRequest = Readonly<{ input: TusRequestInput; outcome: TusRequestOutcome }>;

const current = new AsyncLocalStorage<TusRequest>();

/** Runs `serve` as one tus request: the store sees `input`, and `serve` reads what the store did from the outcome. */
export function runTusRequest<T>(
  input: TusRequestInput,
  serve: (outcome: TusRequestOutcome) => Promise<T>,
): Promise<T> {
  const request: TusRequest = {
    input,
    outcome: { createdId: undefined, record: undefined, stored: undefined, superseded: false },
  };
  return current.run(request, () => serve(request.outcome));
}

/**
 * The tus request being served. The store's DataStore methods are only ever
 * called by @tus/server while serving one; anything else (the sweeper,
 * concatenation) goes through the lifecycle, not the store.
 */
export function currentTusRequest(): TusRequest {
  const request = current.getStore();
  if (!request) throw new Error('the tus store was called outside a tus request (see runTusRequest)');
  return request;
}

/** The tus request being served, if any (for what a store method only remembers for the rest of its request). */
export function tusRequestIfAny(): TusRequest | undefined {
  return current.getStore();
}
