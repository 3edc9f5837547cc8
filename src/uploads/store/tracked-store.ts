import { Readable } from 'node:stream';
import { DataStore, type Upload } from '@tus/utils';
import { appError } from '../../errors/app-error.js';
import type { ByteStore } from '../bytes/byte-store.js';
import { isUnavailable, type UploadLifecycle } from '../lifecycle/upload-lifecycle.js';
import { chooseChunkSize, maxUploadBytes } from '../model/chunk-grid.js';
import { isGroupName } from '../model/upload-id.js';
import { isFinal, parseRecord, type UploadRecord, type UploadStatus } from '../model/upload-record.js';
import type { UploadReader } from '../read/upload-reader.js';
import type { UploadTracker } from '../state/tracker.js';
import type { UploadWriter } from '../writing/upload-writer.js';
import { ChunkSizes } from './chunk-sizes.js';
import { currentTusRequest, type TusRequest, tusRequestIfAny } from './request-context.js';
import { requestedChunkSize, toUpload } from './tus-upload.js';

export type TrackedStoreDeps = Readonly<{
  bytes: ByteStore;
  tracker: UploadTracker;
  reader: UploadReader;
  lifecycle: UploadLifecycle;
  writer: UploadWriter;
  chunkSizeBytes: number;
  maxSizeBytes: number;
  uploadTtlMs: number;
  /** Aborted when this process may no longer write upload `id` (its lock is lost). */
  fence: (id: string) => AbortSignal | undefined;
  /** Whether this process may write upload `id` right now (checked before every write). */
  mayWrite: (id: string) => boolean;
  /** Whether another request asked for the lock this request holds on `id`. */
  handingOver: (id: string) => boolean;
  /** Calls `listener` when another request asks for the lock this request holds on `id`; returns its removal. */
  onReleaseAsked: (id: string, listener: () => void) => () => void;
  /** The upload's hash as read together with the lock this request holds on it (once). */
  takeLockedRead: (id: string) => Promise<Record<string, string>> | undefined;
  /** One sweep of expired uploads; resolves to how many were removed. */
  sweep: () => Promise<number>;
}>;

/**
 * The tus DataStore: bytes go to the byte store, and every create, write,
 * declared length and removal is recorded in Redis as part of the request
 * (awaited), so that when a request ends, the record, the chunk set and the
 * bytes agree. Its methods serve @tus/server's requests only (each needs the
 * request's context); other callers go through the lifecycle.
 */
export class TrackedStore extends DataStore {
  private readonly chunkSizes = new ChunkSizes();
  /** The record a POST just created, which @tus/server reads back at once: no round trip for it. */
  private readonly created = new WeakMap<TusRequest, UploadRecord>();
  /** The length a PATCH declared for its deferred-length upload. */
  private readonly declared = new WeakMap<TusRequest, number>();

  constructor(private readonly deps: TrackedStoreDeps) {
    super();
    this.extensions = [
      'creation',
      'creation-with-upload',
      'creation-defer-length',
      'termination',
      'expiration',
      'checksum',
      'concatenation',
      // @tus/server answers 501 to any Upload-Concat unless the store claims this
      // misspelled name; partial uploads then pass through it. It is taken out of
      // OPTIONS again (http/tus), and final uploads never reach @tus/server.
      'concatentation',
    ];
  }

  override async create(upload: Upload): Promise<Upload> {
    const request = currentTusRequest();
    const { caller, partial } = request.input;
    const { limits } = this.deps.bytes;
    const chunkSize = chooseChunkSize(upload.metadata?.chunkSize, this.deps.chunkSizeBytes, limits);
    if (upload.size !== undefined && upload.size > maxUploadBytes(chunkSize, this.deps.maxSizeBytes, limits)) {
      throw appError('UPLOAD_TOO_LARGE');
    }
    const group = upload.metadata?.group ?? undefined;
    if (group !== undefined && !isGroupName(group)) throw appError('INVALID_GROUP', { field: 'Upload-Metadata group' });
    const createdAt = upload.creation_date ? Date.parse(upload.creation_date) : Date.now();
    const record = await this.deps.lifecycle.create(
      {
        id: upload.id,
        size: upload.size,
        chunkSize,
        metadata: upload.metadata,
        createdAt,
        expiresAt: createdAt + this.deps.uploadTtlMs,
        uploadConcat: partial ? 'partial' : undefined,
        group,
        owner: caller.owner,
      },
      caller.limits.maxConcurrentUploads,
    );
    request.outcome.createdId = upload.id;
    // A lock taken before the upload existed read an empty hash alongside: never to be taken for this record.
    this.dropLockedRead(upload.id);
    this.chunkSizes.remember(upload.id, chunkSize);
    // An empty upload is complete as soon as it exists.
    if (upload.size === 0) await this.deps.writer.settle(upload.id, 0);
    else this.created.set(request, record);
    return upload;
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const request = currentTusRequest();
    const { checksum, bodyLength, body: source } = request.input;
    // The body read straight from the request, when the HTTP layer hands it over (then `stream` is empty).
    const size = this.knownSize(request);
    const room = source ? (size ?? (await this.maxSizeFor(id, null))) - offset : 0;
    // What this request created, or read with its lock, is out of date once it writes.
    this.created.delete(request);
    this.dropLockedRead(id);
    // A writer that may have lost its lock stops at once, keeping what it stored.
    const fence = this.deps.fence(id);
    const stopWriting = () => stream.destroy(fence?.reason);
    if (!source) {
      fence?.addEventListener('abort', stopWriting, { once: true });
      if (fence?.aborted) stopWriting();
    }
    try {
      const chunkSize = (await this.chunkSizeOf(id)) ?? this.deps.chunkSizeBytes;
      const guard = () => {
        if (!this.mayWrite(request, id)) throw fence?.reason ?? appError('LOCK_LOST');
      };
      const direct = source && {
        source,
        room,
        onRelease: (listener: () => void) => this.deps.onReleaseAsked(id, listener),
        fence,
      };
      const body = { chunkSize, length: bodyLength, guard, direct, size };
      const end = checksum
        ? await this.deps.writer.writeVerified(stream, id, offset, body, checksum)
        : await this.deps.writer.write(stream, id, offset, body);
      request.outcome.stored = end - offset;
      // Cut short by a request that took the upload over: less than its length, or a chunked body that did not end.
      const cutShort = bodyLength !== undefined ? end - offset < bodyLength : source?.readableEnded === false;
      if (cutShort && this.deps.handingOver(id)) request.outcome.superseded = true;
      return end;
    } finally {
      fence?.removeEventListener('abort', stopWriting);
    }
  }

  override async getUpload(id: string): Promise<Upload> {
    const request = currentTusRequest();
    const { bytes, lifecycle } = this.deps;
    const [record, found] = await Promise.all([this.readRecordOnce(request, id), bytes.bytesStored(id)]);
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
    request.outcome.record = record;
    // tus concatenation: "The Server MUST respond with the 403 Forbidden status to PATCH requests against a final upload URL".
    if (request.input.method === 'PATCH' && isFinal(record)) throw appError('FINAL_UPLOAD_READ_ONLY');
    this.chunkSizes.remember(id, record.chunkSize);
    const { stored, status } = await this.reconcile(record, found);
    return toUpload(record, stored, status);
  }

  override async declareUploadLength(id: string, size: number): Promise<void> {
    await this.deps.tracker.declareLength(id, size);
    const request = tusRequestIfAny();
    if (request) this.declared.set(request, size);
  }

  /** tus termination. */
  override async remove(id: string): Promise<void> {
    const request = currentTusRequest();
    this.chunkSizes.forget(id);
    this.deps.writer.forget(id);
    const removal = await this.deps.lifecycle.remove(id, 'terminated', await this.readRecordOnce(request, id));
    if (!removal.hadRecord && !removal.hadBytes) throw appError('UPLOAD_NOT_FOUND');
  }

  /**
   * The largest upload accepted: for an existing upload, by its chunk size; for
   * a new one, by the chunk size it asks for; and by the caller's own limit.
   */
  async maxSizeFor(id: string | undefined, metadataHeader: string | null): Promise<number> {
    const { limits } = this.deps.bytes;
    const chunkSize = id
      ? await this.chunkSizeOf(id)
      : requestedChunkSize(metadataHeader, this.deps.chunkSizeBytes, limits);
    const max = maxUploadBytes(chunkSize ?? this.deps.chunkSizeBytes, this.deps.maxSizeBytes, limits);
    const ownerMax = currentTusRequest().input.caller.limits.maxSizeBytes || Number.POSITIVE_INFINITY;
    return Math.min(max, ownerMax);
  }

  /**
   * The bytes of an upload as a web stream (@tus/server's GET path, which this
   * server does not route to: see http/tus/download.ts). A Node stream given to
   * `new Response()` makes undici throw an uncaught "ReadableStream is already
   * closed" on Node 20 when the client closes right after the body.
   */
  async read(id: string): Promise<ReadableStream> {
    const record = await this.deps.reader.readRecord(id);
    if (record?.status !== 'completed') throw appError('UPLOAD_NOT_FOUND');
    return Readable.toWeb(this.deps.bytes.read(id)) as ReadableStream;
  }

  override getExpiration(): number {
    return this.deps.uploadTtlMs;
  }

  /** @tus/server's cleanUpExpiredUploads: one sweep; returns the uploads removed. */
  override async deleteExpired(): Promise<number> {
    return this.deps.sweep();
  }

  /**
   * Invariant: the record says what the disk holds. A crash can leave the disk
   * ahead (bytes written, not recorded; or written unverified under a checksum,
   * which are discarded) or behind (bytes recorded, never flushed). Called
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

  /**
   * The record, without a round trip of its own when this request already has
   * it: just created by this POST, or read with its lock.
   */
  private async readRecordOnce(request: TusRequest, id: string): Promise<UploadRecord | undefined> {
    const created = this.created.get(request);
    if (created?.id === id) return created;
    const withLock = this.deps.takeLockedRead(id);
    return withLock ? parseRecord(id, await withLock) : this.deps.reader.readRecord(id);
  }

  /**
   * Whether this request may write upload `id` now: while it holds the lock,
   * as long as that is certain; without one, only the creation that made the
   * upload (a tus creation without a body takes no lock: see tus-server.ts).
   */
  private mayWrite(request: TusRequest, id: string): boolean {
    if (this.deps.fence(id)) return this.deps.mayWrite(id);
    return request.outcome.createdId === id;
  }

  /**
   * The upload's length as this request knows it: declared by it, or read by
   * it (a body may bring that much, or while the length is deferred, as much as
   * an upload may be: as @tus/server bounds the streams it hands over).
   */
  private knownSize(request: TusRequest): number | undefined {
    return this.declared.get(request) ?? this.created.get(request)?.size ?? request.outcome.record?.size;
  }

  private dropLockedRead(id: string): void {
    this.deps.takeLockedRead(id)?.catch(() => {});
  }

  /** An upload's chunk size never changes, so it is remembered rather than read on every PATCH. */
  private async chunkSizeOf(id: string): Promise<number | undefined> {
    const known = this.chunkSizes.get(id);
    if (known !== undefined) return known;
    const record = await this.deps.reader.readRecord(id);
    if (record) this.chunkSizes.remember(id, record.chunkSize);
    return record?.chunkSize;
  }
}
