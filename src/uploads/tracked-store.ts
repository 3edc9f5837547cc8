import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DataStore, ERRORS, Metadata, Upload } from '@tus/utils';
import { AppError } from '../errors.js';
import { isRedisUnavailable } from '../redis/client.js';
import type { ByteStore } from './byte-store.js';
import { chooseChunkSize, maxUploadBytes } from './chunk-grid.js';
import type { UploadReader } from './progress.js';
import type { UploadRecord } from './record.js';
import { writeInSegments } from './segmented-write.js';
import type { Sweeper } from './sweeper.js';
import type { ProgressState, UploadTracker } from './tracker.js';

const CHUNK_SIZE_CACHE_ENTRIES = 10_000;

export type TrackedStoreOptions = Readonly<{
  bytes: ByteStore;
  tracker: UploadTracker;
  reader: UploadReader;
  chunkSizeBytes: number;
  maxSizeBytes: number;
  uploadTtlMs: number;
  /** Aborted when this process may no longer write upload `id` (its lock is lost). */
  fence?: (id: string) => AbortSignal | undefined;
  sweeper: Sweeper;
}>;

/**
 * The tus DataStore: bytes go to the byte store, and every create, write,
 * declared length and removal is recorded in Redis as part of the request
 * (awaited), so that when a request ends, the record, the chunk set and the
 * bytes agree.
 */
export class TrackedStore extends DataStore {
  private readonly finalizing = new Map<string, Promise<void>>();
  private readonly chunkSizes = new Map<string, number>();

  constructor(private readonly options: TrackedStoreOptions) {
    super();
    this.extensions = ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration'];
  }

  override async create(upload: Upload): Promise<Upload> {
    const { bytes, tracker } = this.options;
    const chunkSize = chooseChunkSize(upload.metadata?.chunkSize, this.options.chunkSizeBytes);
    if (upload.size !== undefined && upload.size > maxUploadBytes(chunkSize, this.options.maxSizeBytes)) {
      throw ERRORS.ERR_MAX_SIZE_EXCEEDED;
    }
    const createdAt = upload.creation_date ? Date.parse(upload.creation_date) : Date.now();
    await tracker.create({
      id: upload.id,
      size: upload.size,
      chunkSize,
      metadata: upload.metadata,
      createdAt,
      expiresAt: createdAt + this.options.uploadTtlMs,
    });
    this.rememberChunkSize(upload.id, chunkSize);
    try {
      await bytes.create(upload.id);
    } catch (error) {
      await tracker.remove(upload.id).catch(() => {});
      throw error;
    }
    // An empty upload is complete as soon as it exists.
    if (upload.size === 0) await this.settle(upload.id, 0);
    return upload;
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const { bytes } = this.options;
    let progress: ProgressState | undefined;
    let end: number;
    // A writer that may have lost its lock stops at once, keeping what it stored.
    const fence = this.options.fence?.(id);
    const stopWriting = () => stream.destroy(fence?.reason);
    fence?.addEventListener('abort', stopWriting, { once: true });
    if (fence?.aborted) stopWriting();
    const chunkSize = (await this.chunkSizeOf(id)) ?? this.options.chunkSizeBytes;
    try {
      end = await writeInSegments(stream, offset, chunkSize, async (segment, at) => {
        const stored = await bytes.write(segment, id, at);
        progress = await this.recordProgress(id, stored);
        return stored;
      });
    } catch (error) {
      // The request failed, yet bytes may have been stored: record what the disk
      // holds. If Redis fails here too, the next HEAD reconciles from the disk.
      const stored = await bytes.bytesStored(id).catch(() => undefined);
      if (stored !== undefined) await this.options.tracker.recordProgress(id, stored).catch(() => {});
      throw error;
    } finally {
      fence?.removeEventListener('abort', stopWriting);
    }
    // A request with an empty body stores nothing, but may end an upload whose length it declared.
    progress ??= await this.recordProgress(id, end);
    if (progress.status === 'assembling') await this.finalize(id);
    return end;
  }

  override async getUpload(id: string): Promise<Upload> {
    const { bytes, tracker, reader } = this.options;
    const [record, stored] = await Promise.all([reader.readRecord(id), bytes.bytesStored(id)]);
    if (!record) {
      if (stored === undefined) throw ERRORS.FILE_NOT_FOUND;
      // The record expired (or was lost) while its bytes remain: without its
      // state the upload cannot be resumed, so its bytes go too.
      await bytes.remove(id);
      throw ERRORS.FILE_NO_LONGER_EXISTS;
    }
    if (stored === undefined) {
      await tracker.remove(id);
      throw ERRORS.FILE_NO_LONGER_EXISTS;
    }
    // Invariant: the record says what the disk holds. A crash can leave the disk
    // ahead (bytes written, not recorded) or behind (bytes recorded, never flushed).
    let status = record.status;
    if (stored > record.offset) status = (await tracker.recordProgress(id, stored))?.status ?? status;
    if (stored < record.offset) {
      await tracker.rewindProgress(id, stored);
      status = 'uploading';
    }
    if (status === 'assembling') await this.finalize(id);
    this.rememberChunkSize(id, record.chunkSize);
    return toUpload(record, stored, status);
  }

  override async declareUploadLength(id: string, size: number): Promise<void> {
    await this.options.tracker.declareLength(id, size);
  }

  /**
   * Termination. The bytes go first: if the process dies before the keys
   * follow, the record without bytes is removed by the next request or the
   * sweeper; the other order could leave bytes that nothing refers to.
   */
  override async remove(id: string): Promise<void> {
    this.chunkSizes.delete(id);
    const hadBytes = await this.options.bytes.remove(id);
    const hadRecord = await this.options.tracker.remove(id);
    if (!hadRecord && !hadBytes) throw ERRORS.FILE_NOT_FOUND;
  }

  /** The largest upload accepted: for an existing upload, by its chunk size; for a new one, by the chunk size it asks for. */
  async maxSizeFor(id: string | undefined, metadataHeader: string | null): Promise<number> {
    const chunkSize = id ? await this.chunkSizeOf(id) : requestedChunkSize(metadataHeader, this.options.chunkSizeBytes);
    return maxUploadBytes(chunkSize ?? this.options.chunkSizeBytes, this.options.maxSizeBytes);
  }

  /**
   * GET: only a completed upload is served. The bytes are handed over as a web
   * ReadableStream: given a Node stream, @tus/server's `new Response(stream)`
   * makes undici wrap it as an async iterable, and on Node 20 that wrapper
   * throws an uncaught "ReadableStream is already closed" (killing the process)
   * when the client closes its connection right after the body, as curl does.
   */
  async read(id: string): Promise<ReadableStream> {
    const record = await this.options.reader.readRecord(id);
    if (record?.status !== 'completed') throw ERRORS.FILE_NOT_FOUND;
    return Readable.toWeb(this.options.bytes.read(id)) as ReadableStream;
  }

  override getExpiration(): number {
    return this.options.uploadTtlMs;
  }

  /** @tus/server's cleanUpExpiredUploads: one sweep; returns the uploads removed. */
  override async deleteExpired(): Promise<number> {
    const report = await this.options.sweeper.sweep();
    return report.expired + report.orphanFiles + report.orphanRecords;
  }

  /** Records the progress of a request that stored nothing, finalizing when that completes the upload. */
  private async settle(id: string, offset: number): Promise<void> {
    const progress = await this.recordProgress(id, offset);
    if (progress.status === 'assembling') await this.finalize(id);
  }

  private async recordProgress(id: string, offset: number): Promise<ProgressState> {
    const progress = await this.options.tracker.recordProgress(id, offset);
    // Deleted or expired while this request was writing.
    if (!progress) throw ERRORS.FILE_NO_LONGER_EXISTS;
    return progress;
  }

  /** An upload's chunk size never changes, so it is remembered rather than read on every PATCH. */
  private async chunkSizeOf(id: string): Promise<number | undefined> {
    const known = this.chunkSizes.get(id);
    if (known !== undefined) return known;
    const record = await this.options.reader.readRecord(id);
    if (record) this.rememberChunkSize(id, record.chunkSize);
    return record?.chunkSize;
  }

  private rememberChunkSize(id: string, chunkSize: number): void {
    if (this.chunkSizes.size >= CHUNK_SIZE_CACHE_ENTRIES) {
      const oldest = this.chunkSizes.keys().next().value;
      if (oldest !== undefined) this.chunkSizes.delete(oldest);
    }
    this.chunkSizes.set(id, chunkSize);
  }

  /**
   * assembling → completed: the whole file's SHA-256 is computed and recorded.
   * One finalization per upload at a time in this process; a second caller waits for the first.
   */
  private finalize(id: string): Promise<void> {
    let running = this.finalizing.get(id);
    if (!running) {
      running = this.computeAndRecordDigest(id).finally(() => this.finalizing.delete(id));
      this.finalizing.set(id, running);
    }
    return running;
  }

  private async computeAndRecordDigest(id: string): Promise<void> {
    const { bytes, tracker, reader } = this.options;
    try {
      const hash = createHash('sha256');
      await pipeline(bytes.read(id), hash);
      await tracker.complete(id, hash.digest('hex'));
    } catch (error) {
      // Redis being unavailable leaves the upload 'assembling'; the next HEAD or PATCH finalizes it.
      if (isRedisUnavailable(error)) throw error;
      const record = await reader.readRecord(id);
      if (record) await tracker.fail(id, `finalization failed: ${(error as Error).message}`, record.expiresAt);
      throw new AppError('UPLOAD_FINALIZATION_FAILED', 500, 'The upload was stored but could not be finalized');
    }
  }
}

/** The chunk size a creation request asks for; the server's when it asks for none or for an invalid one (refused later, with its reason). */
function requestedChunkSize(metadataHeader: string | null, serverDefault: number): number {
  try {
    return chooseChunkSize(metadataHeader ? Metadata.parse(metadataHeader).chunkSize : undefined, serverDefault);
  } catch {
    return serverDefault;
  }
}

function toUpload(record: UploadRecord, stored: number, status: UploadRecord['status']): Upload {
  const upload = new Upload({
    id: record.id,
    size: record.size,
    offset: stored,
    metadata: record.metadata,
    creation_date: new Date(record.createdAt).toISOString(),
  });
  // tus: "The Upload-Expires response header indicates the time after which the
  // unfinished upload expires." A completed upload is not unfinished: without a
  // creation date, @tus/server does not answer 410 for it once that time passes.
  if (status === 'completed') upload.creation_date = undefined;
  return upload;
}
