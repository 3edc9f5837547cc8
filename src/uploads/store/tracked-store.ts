import { Readable } from 'node:stream';
import { DataStore, ERRORS, Metadata, Upload } from '@tus/utils';
import { AppError } from '../../errors.js';
import type { ByteStore } from '../bytes/file-byte-store.js';
import type { Sweeper } from '../coordination/sweeper.js';
import { bytesLost, type UploadEvents } from '../events/upload-events.js';
import { chooseChunkSize, maxUploadBytes } from '../model/chunk-grid.js';
import { GROUP_RULE, isGroupName } from '../model/upload-id.js';
import {
  isFinal,
  type NewUpload,
  newRecord,
  parseRecord,
  type UploadRecord,
  type UploadStatus,
} from '../model/upload-record.js';
import type { UploadReader } from '../read/upload-reader.js';
import type { OwnerSlots } from '../state/owner-slots.js';
import type { UploadTracker } from '../state/tracker.js';
import { UploadWriter } from '../writing/upload-writer.js';
import { requestScope } from './request-context.js';

const CHUNK_SIZE_CACHE_ENTRIES = 10_000;

export type TrackedStoreOptions = Readonly<{
  bytes: ByteStore;
  tracker: UploadTracker;
  reader: UploadReader;
  chunkSizeBytes: number;
  maxSizeBytes: number;
  uploadTtlMs: number;
  /** Progress is recorded at most this often while a body streams. */
  progressIntervalMs: number;
  /** Whether a completed upload gets its SHA-256 recorded. */
  digest: boolean;
  /** Reports an error of work that outlived its request (a late progress update). */
  onLateError: (error: unknown) => void;
  events: UploadEvents;
  /** Aborted when this process may no longer write upload `id` (its lock is lost). */
  fence?: (id: string) => AbortSignal | undefined;
  sweeper: Sweeper;
  /** Counts each owner's unfinished uploads against their limit. */
  slots?: OwnerSlots;
}>;

/**
 * The tus DataStore: bytes go to the byte store, and every create, write,
 * declared length and removal is recorded in Redis as part of the request
 * (awaited), so that when a request ends, the record, the chunk set and the
 * bytes agree.
 */
export class TrackedStore extends DataStore {
  readonly writer: UploadWriter;
  private readonly chunkSizes = new Map<string, number>();

  constructor(private readonly options: TrackedStoreOptions) {
    super();
    this.writer = new UploadWriter(options);
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
      // OPTIONS again (http/tus.ts), and final uploads never reach @tus/server.
      'concatentation',
    ];
  }

  override async create(upload: Upload): Promise<Upload> {
    const { bytes, tracker } = this.options;
    const chunkSize = chooseChunkSize(upload.metadata?.chunkSize, this.options.chunkSizeBytes);
    if (upload.size !== undefined && upload.size > maxUploadBytes(chunkSize, this.options.maxSizeBytes)) {
      throw ERRORS.ERR_MAX_SIZE_EXCEEDED;
    }
    const group = upload.metadata?.group ?? undefined;
    if (group !== undefined && !isGroupName(group)) {
      throw new AppError('INVALID_REQUEST', 400, `Invalid Upload-Metadata group: ${GROUP_RULE}`);
    }
    const createdAt = upload.creation_date ? Date.parse(upload.creation_date) : Date.now();
    const scope = requestScope.getStore();
    const partial = scope?.partial === true;
    const owner = scope?.caller?.owner;
    const concurrent = scope?.caller?.limits.maxConcurrentUploads ?? 0;
    // Per-owner limit, checked before anything is created (and so before any byte is accepted).
    if (owner !== undefined && concurrent > 0) await this.options.slots?.claim(owner, upload.id, concurrent, createdAt);
    // Read with the lock, before the record existed.
    if (scope) scope.prefetched = undefined;
    const created: NewUpload = {
      id: upload.id,
      size: upload.size,
      chunkSize,
      metadata: upload.metadata,
      createdAt,
      expiresAt: createdAt + this.options.uploadTtlMs,
      uploadConcat: partial ? 'partial' : undefined,
      group,
      owner,
    };
    await tracker.create(created);
    this.rememberChunkSize(upload.id, chunkSize);
    try {
      await bytes.create(upload.id);
    } catch (error) {
      await tracker.remove(upload.id).catch(() => {});
      throw error;
    }
    if (group !== undefined) await tracker.addToGroup(group, owner, upload.id);
    await this.options.events.emit({ type: 'created', id: upload.id });
    // An empty upload is complete as soon as it exists.
    if (upload.size === 0) await this.writer.settle(upload.id, 0);
    // @tus/server reads the upload back at once; unless a body is written to it first, this is it.
    else if (scope) scope.created = newRecord(created);
    return upload;
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const scope = requestScope.getStore();
    // What this request read or created of the upload is out of date once it writes.
    if (scope) {
      scope.created = undefined;
      scope.prefetched = undefined;
    }
    // A writer that may have lost its lock stops at once, keeping what it stored.
    const fence = this.options.fence?.(id);
    const stopWriting = () => stream.destroy(fence?.reason);
    fence?.addEventListener('abort', stopWriting, { once: true });
    if (fence?.aborted) stopWriting();
    try {
      const chunkSize = (await this.chunkSizeOf(id)) ?? this.options.chunkSizeBytes;
      const checksum = scope?.checksum;
      const end = checksum
        ? await this.writer.writeVerified(stream, id, offset, chunkSize, checksum)
        : await this.writer.write(stream, id, offset, chunkSize);
      if (scope) scope.stored = end - offset;
      return end;
    } finally {
      fence?.removeEventListener('abort', stopWriting);
    }
  }

  override async getUpload(id: string): Promise<Upload> {
    const { bytes, tracker } = this.options;
    const [record, found] = await Promise.all([this.readRecordOnce(id), bytes.bytesStored(id)]);
    if (!record) {
      if (found === undefined) throw ERRORS.FILE_NOT_FOUND;
      // The record expired (or was lost) while its bytes remain: without its
      // state the upload cannot be resumed, so its bytes go too. Whoever
      // removes them says so (the sweeper will find nothing left to announce).
      if (await bytes.remove(id)) await this.options.events.emit({ type: 'expired', id, bytes: found });
      throw ERRORS.FILE_NO_LONGER_EXISTS;
    }
    if (found === undefined) {
      // Its bytes are gone from disk. A completed upload's file may have been
      // moved on purpose (upload.completed says where it is); an unfinished one
      // cannot go on: announced before the record goes, so the event shows what it was.
      if (record.status !== 'completed') await this.options.events.emit(bytesLost(id));
      await tracker.remove(id);
      throw ERRORS.FILE_NO_LONGER_EXISTS;
    }
    const scope = requestScope.getStore();
    if (scope) scope.record = record;
    // tus concatenation: "The Server MUST respond with the 403 Forbidden status to PATCH requests against a final upload URL".
    if (scope?.method === 'PATCH' && isFinal(record)) {
      throw new AppError('INVALID_REQUEST', 403, 'A final upload (Upload-Concat: final) cannot be modified');
    }
    this.rememberChunkSize(id, record.chunkSize);
    const { stored, status } = await this.reconcile(record, found);
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
    this.writer.forget(id);
    const record = await this.readRecordOnce(id);
    const hadBytes = await this.options.bytes.remove(id);
    const hadRecord = await this.options.tracker.remove(id);
    if (!hadRecord && !hadBytes) throw ERRORS.FILE_NOT_FOUND;
    if (record?.owner !== undefined) await this.options.slots?.release(record.owner, id);
    await this.options.events.emit({ type: 'terminated', id, record });
  }

  /**
   * The largest upload accepted: for an existing upload, by its chunk size; for
   * a new one, by the chunk size it asks for; and by the caller's own limit.
   */
  async maxSizeFor(id: string | undefined, metadataHeader: string | null): Promise<number> {
    const chunkSize = id ? await this.chunkSizeOf(id) : requestedChunkSize(metadataHeader, this.options.chunkSizeBytes);
    const max = maxUploadBytes(chunkSize ?? this.options.chunkSizeBytes, this.options.maxSizeBytes);
    const ownerMax = requestScope.getStore()?.caller?.limits.maxSizeBytes || Number.POSITIVE_INFINITY;
    return Math.min(max, ownerMax);
  }

  /**
   * The bytes of an upload as a web stream (@tus/server's GET path, which this
   * server does not route to: see http/download.ts). A Node stream given to
   * `new Response()` makes undici throw an uncaught "ReadableStream is already
   * closed" on Node 20 when the client closes right after the body.
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

  /**
   * Invariant: the record says what the disk holds. A crash can leave the disk
   * ahead (bytes written, not recorded; or written unverified under a checksum,
   * which are discarded) or behind (bytes recorded, never flushed). Called
   * under the upload's lock. Returns the bytes stored and the status.
   */
  private async reconcile(record: UploadRecord, found: number): Promise<{ stored: number; status: UploadStatus }> {
    const { bytes, tracker } = this.options;
    let stored = found;
    if (record.unverifiedFrom !== undefined) {
      if (stored > record.unverifiedFrom) {
        await bytes.truncate(record.id, record.unverifiedFrom);
        stored = record.unverifiedFrom;
      }
      await tracker.clearUnverified(record.id);
    }
    let status = record.status;
    if (stored > record.offset) status = (await tracker.recordProgress(record.id, stored))?.status ?? status;
    if (stored < record.offset) {
      await tracker.rewindProgress(record.id, stored);
      status = 'uploading';
    }
    if (status === 'assembling' && stored === record.size && !isFinal(record)) {
      await this.writer.finalize(record.id);
      status = 'completed';
    }
    return { stored, status };
  }

  /**
   * The record, without a round trip of its own when this request already has
   * it: read with its lock, or just created by this POST.
   */
  private async readRecordOnce(id: string): Promise<UploadRecord | undefined> {
    const scope = requestScope.getStore();
    if (scope?.created?.id === id) return scope.created;
    const prefetched = scope?.prefetched?.id === id ? scope.prefetched.hash : undefined;
    if (scope) scope.prefetched = undefined;
    return prefetched ? parseRecord(id, await prefetched) : this.options.reader.readRecord(id);
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
}

/** The chunk size a creation request asks for; the server's when it asks for none or for an invalid one (refused later, with its reason). */
function requestedChunkSize(metadataHeader: string | null, serverDefault: number): number {
  try {
    return chooseChunkSize(metadataHeader ? Metadata.parse(metadataHeader).chunkSize : undefined, serverDefault);
  } catch {
    return serverDefault;
  }
}

function toUpload(record: UploadRecord, stored: number, status: UploadStatus): Upload {
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
