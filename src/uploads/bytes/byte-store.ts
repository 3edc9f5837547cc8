import type { Readable } from 'node:stream';

/** Where an upload's bytes live. Records (size, metadata, progress) live in Redis, not here. */
export interface ByteStore {
  create(id: string): Promise<void>;
  /** Appends `stream` at `offset`; resolves to the new end once the bytes are stored. */
  write(stream: Readable, id: string, offset: number): Promise<number>;
  read(id: string): Readable;
  /** Cuts the bytes back to `length` (discarding a body whose checksum did not match). */
  truncate(id: string, length: number): Promise<void>;
  /** false when there were no bytes to remove; throws when they could not be removed. */
  remove(id: string): Promise<boolean>;
  /** Bytes stored for the upload; undefined when it has none (not even an empty file). */
  bytesStored(id: string): Promise<number | undefined>;
  /** The file holding the upload's bytes, for stores that keep them in local files (GET serves it with Range support). */
  localPath?(id: string): string;
  /** Every upload that has bytes here, with when they last changed (ms). */
  list(): AsyncIterable<{ id: string; modifiedAt: number }>;
}
