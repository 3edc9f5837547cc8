import type { Readable } from 'node:stream';

/**
 * Asked before bytes are written or recorded: throws (or its promise rejects)
 * once no more may be (the lock is lost, the upload gone); returns a promise to
 * wait on while writing must pause (a Redis stall), undefined to go on at once.
 */
export type WriteGate = () => Promise<void> | undefined;

export type WriteOptions = Readonly<{
  /** How many bytes the stream will deliver, when the request said (Content-Length); a store may need it to send them on. */
  length?: number;
  /** Asked before the bytes are recorded (see WriteGate). */
  guard?: WriteGate;
}>;

/** Bytes written but not yet counted: `commit` makes them part of the upload, `discard` takes them back. */
export type StagedBytes = Readonly<{ end: number; commit(): Promise<void>; discard(): Promise<void> }>;

/** An upload's file, open for the writes of one request (stores that keep local files). */
export type ByteSink = Readonly<{
  /** Writes `length` bytes, the concatenation of `buffers`, at `position`; resolves once all are written. */
  write(buffers: readonly Buffer[], position: number, length: number): Promise<void>;
  close(): Promise<void>;
}>;

/** Bytes this server sends to an object store and reads back from it (so that a copy inside the store shows as neither). */
export type StorageTraffic = (direction: 'sent' | 'read', bytes: number) => void;

/** A completed partial upload a final one is made of. */
export type PartialBytes = Readonly<{ id: string; size: number }>;

/** A download's Range and conditions, as the client sent them. */
export type FetchConditions = Readonly<{
  range?: string;
  ifNoneMatch?: string;
  ifMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}>;

/** What a store answers a download with: the status (200, 206, 304, 412, 416, 404), headers and the bytes. */
export type FetchedBytes = Readonly<{ status: number; headers: Record<string, string>; body?: Readable }>;

/**
 * Where an upload's bytes live (a directory, an S3 bucket). Records (size,
 * metadata, progress) live in Redis, not here. Every method but `read` and
 * `fetch` speaks of an upload by its ID; offsets count from its first byte.
 */
export interface ByteStore {
  /** The chunk grid this store can keep: its smallest chunk, and its most chunks per upload. */
  readonly limits: Readonly<{ minChunkBytes: number; maxChunks: number }>;
  create(id: string, options: { chunkSize: number }): Promise<void>;
  /**
   * Appends `stream` at `offset`, never past the end of the chunk it starts
   * in; resolves to the new end once the bytes are stored (durably: what a
   * later request, on any instance, finds).
   */
  write(stream: Readable, id: string, offset: number, options?: WriteOptions): Promise<number>;
  /**
   * The upload's bytes open for one request's writes at any position, for
   * stores that can take them without a stream (a local file): the writer
   * then hands them over in batches, straight from the request.
   */
  open?(id: string): Promise<ByteSink>;
  /** As `write`, but the bytes count only once committed (a body whose checksum is yet to be verified). */
  stage(stream: Readable, id: string, offset: number, options?: WriteOptions): Promise<StagedBytes>;
  /** Every byte is in: the bytes take their final form (S3: the multipart upload is completed). */
  seal(id: string): Promise<void>;
  /** A completed upload's bytes. */
  read(id: string): Readable;
  /** Cuts the bytes back to at most `length` (discarding unverified bytes); resolves to what is held then. */
  truncate(id: string, length: number): Promise<number>;
  /** Removes every byte of the upload; false when there were none; throws when they could not be removed. */
  remove(id: string): Promise<boolean>;
  /** Bytes stored for the upload; undefined when it has none (not even an empty file). */
  bytesStored(id: string): Promise<number | undefined>;
  /** Every upload that has bytes here, with when they last changed (ms). */
  list(): AsyncIterable<{ id: string; modifiedAt: number }>;
  /** Where the bytes are, for people and other systems: a file path, or `s3://bucket/key`. */
  location(id: string): string;
  /** Whether the store can take bytes now: `ok`, or why not (for readiness). */
  probe(): Promise<string>;
  /** Checks, at start, that the store is there and writable; throws a message an operator can act on. */
  start?(): Promise<void>;
  /** The file holding a completed upload's bytes, for stores that keep local files (GET serves it with Range). */
  localPath?(id: string): string;
  /** A download with Range and conditions, for stores that cannot give a local file. */
  fetch?(id: string, conditions: FetchConditions): Promise<FetchedBytes>;
  /**
   * Assembles a final upload from completed partials inside the store, when it
   * can (S3 copies them server-side); `recorded` hears the bytes assembled so
   * far. Without it, the bytes are read and written again.
   */
  concatenate?(id: string, partials: readonly PartialBytes[], recorded: (end: number) => Promise<void>): Promise<void>;
}
