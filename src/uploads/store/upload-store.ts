import type { Readable } from 'node:stream';
import { appError } from '../../errors/app-error.js';
import type { ByteStore } from '../bytes/byte-store.js';
import type { UploadLock } from '../coordination/upload-lock.js';
import type { ChecksumExpectation } from '../digests/checksum.js';
import { isUnavailable, type UploadLifecycle } from '../lifecycle/upload-lifecycle.js';
import type { Caller } from '../model/caller.js';
import { CHUNK_SIZE_BOUNDS, chooseChunkSize, maxUploadBytes } from '../model/chunk-grid.js';
import { isGroupName } from '../model/upload-id.js';
import { isFinal, parseRecord, type UploadRecord, type UploadStatus } from '../model/upload-record.js';
import type { UploadReader } from '../read/upload-reader.js';
import type { UploadTracker } from '../state/tracker.js';
import type { UploadWriter } from '../writing/upload-writer.js';

export type UploadStoreDeps = Readonly<{
  bytes: ByteStore;
  tracker: UploadTracker;
  reader: UploadReader;
  lifecycle: UploadLifecycle;
  writer: UploadWriter;
  chunkSizeBytes: number;
  maxSizeBytes: number;
  uploadTtlMs: number;
}>;

/** An upload as one request found it: its record, and its bytes reconciled with it. */
export type OpenUpload = Readonly<{
  id: string;
  record: UploadRecord;
  /** Bytes stored. */
  offset: number;
  /** Its final size; undefined while its length is deferred. */
  size: number | undefined;
  status: UploadStatus;
  /** The largest it may be for the caller that opened it (its chunk grid, the server's and the caller's limits). */
  maxSize: number;
}>;

/** A new upload, as a creation request asks for it. */
export type Creation = Readonly<{
  id: string;
  size: number | undefined;
  metadata: Record<string, string | null> | undefined;
  caller: Caller;
  /** tus `Upload-Concat: partial`. */
  partial: boolean;
  createdAt?: number;
}>;

/** A request's body, as the append procedure reads it. */
export type Body = Readonly<{
  /** The request itself (or any stream): read straight from it, no stage in between. */
  source: Readable;
  /** Content-Length, when the request said it. */
  length?: number;
  /** `Upload-Checksum` (tus): the body is stored only if it matches. */
  checksum?: ChecksumExpectation;
  /** Hears each offset recorded while the body streams. */
  onRecorded?: (offset: number) => void;
}>;

/** What one append did. */
export type Appended = Readonly<{
  /** The offset after the last byte stored. */
  end: number;
  /** Its body was cut short because another request asked for the lock (the draft: "a new request ends the one in flight"). */
  superseded: boolean;
}>;

/**
 * Every request's way into an upload, with its arguments said: create it,
 * open it (record and bytes reconciled), declare its length, append a body to
 * it under the lock the request holds, remove it. Both protocols (tus 1.0 and
 * the IETF draft, every version) call these and nothing else; the tracker,
 * the lifecycle and the writer do the recording.
 */
export class UploadStore {
  constructor(private readonly deps: UploadStoreDeps) {}

  /**
   * Creates the upload (record, bytes, owner's slot, group; then `created`).
   * `lock`, when the creation holds one for the new ID, read an empty hash
   * alongside: it is dropped, never to be taken for this record.
   */
  async create(creation: Creation, lock?: UploadLock): Promise<OpenUpload> {
    const { id, size, metadata, caller, partial } = creation;
    const { limits } = this.deps.bytes;
    const chunkSize = chooseChunkSize(metadata?.chunkSize, this.deps.chunkSizeBytes, limits);
    const maxSize = this.maxSizeFor(chunkSize, caller);
    if (size !== undefined && size > maxSize) throw appError('UPLOAD_TOO_LARGE');
    const group = metadata?.group ?? undefined;
    if (group !== undefined && !isGroupName(group)) throw appError('INVALID_GROUP', { field: 'Upload-Metadata group' });
    const createdAt = creation.createdAt ?? Date.now();
    lock?.takeRead()?.catch(() => {});
    const record = await this.deps.lifecycle.create(
      {
        id,
        size,
        chunkSize,
        metadata,
        createdAt,
        expiresAt: createdAt + this.deps.uploadTtlMs,
        uploadConcat: partial ? 'partial' : undefined,
        group,
        owner: caller.owner,
      },
      caller.limits.maxConcurrentUploads,
    );
    // An empty upload is complete as soon as it exists.
    if (size === 0) await this.deps.writer.settle(id, 0);
    return { id, record, offset: 0, size, status: size === 0 ? 'completed' : record.status, maxSize };
  }

  /**
   * The upload `id` as it stands: its record (the one read with `lock`, when
   * the lock read one) and its bytes, reconciled. 404 when it does not exist;
   * 410 when its record or its bytes are gone (what is left is removed), or
   * when it expired unfinished.
   */
  async open(id: string, caller: Caller, lock?: UploadLock): Promise<OpenUpload> {
    const { bytes, lifecycle } = this.deps;
    const [record, found] = await Promise.all([this.readRecord(id, lock), bytes.bytesStored(id)]);
    if (!record) {
      if (found === undefined) throw appError('UPLOAD_NOT_FOUND');
      // The record expired (or was lost) while its bytes remain: without its state the upload cannot be resumed.
      await lifecycle.remove(id, 'expired');
      throw appError('UPLOAD_GONE');
    }
    if (found === undefined) {
      await lifecycle.remove(id, 'lost', record);
      throw appError('UPLOAD_GONE');
    }
    const { stored, status } = await this.reconcile(record, found);
    // tus: "If a Client does attempt to resume an upload which has since been removed by the Server, the Server
    // SHOULD respond with the 404 Not Found or 410 Gone status"; an unfinished upload past its expiry is removed.
    if (status !== 'completed' && Date.now() > record.expiresAt) throw appError('UPLOAD_GONE');
    const maxSize = this.maxSizeFor(record.chunkSize, caller);
    return { id, record, offset: stored, size: record.size, status, maxSize };
  }

  /** Records the final size of an upload whose length was deferred; the upload as it is then. */
  async declareLength(upload: OpenUpload, size: number): Promise<OpenUpload> {
    await this.deps.tracker.declareLength(upload.id, size);
    return { ...upload, size };
  }

  /**
   * The one write path: appends `body` at `offset` under `lock`, which the
   * caller holds. The body is read straight from the request, up to the
   * upload's size (or, while it is deferred, the most it may be), and stored in
   * pieces ending on chunk boundaries; what is stored is recorded as it goes,
   * and the last byte completes the upload. Another request asking for the
   * lock ends the reading (what came is kept); a lock no longer certain stops
   * the writing. A body that runs past the room it has is refused
   * (BODY_EXCEEDS_LENGTH) once the bytes that fit are stored.
   */
  async append(upload: OpenUpload, offset: number, body: Body, lock: UploadLock): Promise<Appended> {
    const { writer } = this.deps;
    const room = (upload.size ?? upload.maxSize) - offset;
    const guard = () => {
      // An unfinished upload past its expiry is gone: not one more byte goes into it.
      if (Date.now() > upload.record.expiresAt) throw appError('UPLOAD_GONE');
      return lock.writable();
    };
    const options = {
      source: {
        source: body.source,
        room,
        onRelease: (listener: () => void) => lock.onAsked(listener),
        fence: lock.fence,
      },
      chunkSize: upload.record.chunkSize,
      length: body.length,
      guard,
      size: upload.size,
      onRecorded: body.onRecorded,
    };
    const end = body.checksum
      ? await writer.writeVerified(upload.id, offset, options, body.checksum)
      : await writer.write(upload.id, offset, options);
    // Cut short by a request that took the upload over: less than its length, or a chunked body that did not end.
    const cutShort = body.length !== undefined ? end - offset < body.length : !body.source.readableEnded;
    return { end, superseded: cutShort && lock.asked };
  }

  /** Records that nothing more comes at `offset`, completing the upload when that is its size (an empty append that ends it). */
  async settle(upload: OpenUpload, offset: number): Promise<void> {
    await this.deps.writer.settle(upload.id, offset);
  }

  /** Removes an upload (tus termination, draft cancellation); 404 when there was nothing to remove. */
  async remove(id: string, lock?: UploadLock): Promise<void> {
    this.deps.writer.forget(id);
    const removal = await this.deps.lifecycle.remove(id, 'terminated', await this.readRecord(id, lock));
    if (!removal.hadRecord && !removal.hadBytes) throw appError('UPLOAD_NOT_FOUND');
  }

  /** The largest upload accepted with chunks of `chunkSize` (the byte store's grid, the server's limit), and from `caller`. */
  maxSizeFor(chunkSize: number, caller: Caller): number {
    const max = maxUploadBytes(chunkSize, this.deps.maxSizeBytes, this.deps.bytes.limits);
    return Math.min(max, caller.limits.maxSizeBytes || Number.POSITIVE_INFINITY);
  }

  /** The largest new upload accepted from `caller`, by the chunk size its metadata asks for (the server's when none, or an invalid one: refused later, with its reason). */
  maxNewSize(metadata: Record<string, string | null> | undefined, caller: Caller): number {
    let chunkSize = this.deps.chunkSizeBytes;
    try {
      chunkSize = chooseChunkSize(metadata?.chunkSize, this.deps.chunkSizeBytes, this.deps.bytes.limits);
    } catch {}
    return this.maxSizeFor(chunkSize, caller);
  }

  /**
   * The chunk grid a client may choose for a new upload (Upload-Metadata `chunkSize`): the server's, and the
   * bounds this byte store takes (on S3 no chunk is smaller than a part); and the largest upload at the server's
   * grid. What GET /api/limits announces.
   */
  get grid(): {
    chunkSizeBytes: number;
    minChunkBytes: number;
    maxChunkBytes: number;
    maxChunks: number;
    maxUploadBytes: number;
  } {
    const { chunkSizeBytes, maxSizeBytes, bytes } = this.deps;
    return {
      chunkSizeBytes,
      minChunkBytes: Math.max(CHUNK_SIZE_BOUNDS.minBytes, bytes.limits.minChunkBytes),
      maxChunkBytes: CHUNK_SIZE_BOUNDS.maxBytes,
      maxChunks: bytes.limits.maxChunks,
      maxUploadBytes: maxUploadBytes(chunkSizeBytes, maxSizeBytes, bytes.limits),
    };
  }

  /** How long an unfinished upload lives. */
  get ttlMs(): number {
    return this.deps.uploadTtlMs;
  }

  /** The record, without a round trip of its own when the lock read it. */
  private async readRecord(id: string, lock: UploadLock | undefined): Promise<UploadRecord | undefined> {
    const withLock = lock?.takeRead();
    return withLock ? parseRecord(id, await withLock) : this.deps.reader.readRecord(id);
  }

  /**
   * Invariant: the record says what the byte store holds. A crash can leave
   * the bytes ahead (written, not recorded; or written unverified under a
   * checksum, which are discarded) or behind (recorded, never flushed). Called
   * under the upload's lock. Returns the bytes stored and the status.
   */
  private async reconcile(record: UploadRecord, found: number): Promise<{ stored: number; status: UploadStatus }> {
    const { bytes, tracker } = this.deps;
    let stored = found;
    if (record.unverifiedFrom !== undefined) {
      if (stored > record.unverifiedFrom) stored = await bytes.truncate(record.id, record.unverifiedFrom);
      await tracker.clearUnverified(record.id);
    }
    let status = record.status;
    if (stored > record.offset) status = (await tracker.recordProgress(record.id, stored))?.status ?? status;
    if (stored < record.offset) {
      await tracker.rewindProgress(record.id, stored);
      status = 'uploading';
    }
    if (status === 'assembling' && stored === record.size && !isFinal(record)) {
      // Left assembling by a crash or an outage: finished now. If that cannot be done now either, the
      // request is still answered from what is recorded (every byte is stored), and a later one finishes it.
      const finished = await this.deps.writer.finalize(record.id).then(
        () => true,
        (error) => {
          if (isUnavailable(error)) return false;
          throw error;
        },
      );
      if (finished) status = 'completed';
    }
    return { stored, status };
  }
}
