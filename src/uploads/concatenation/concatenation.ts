import { createHash } from 'node:crypto';
import type { Lock, Locker } from '@tus/utils';
import { AppError } from '../../errors.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import type { ByteStore } from '../bytes/file-byte-store.js';
import type { UploadEvents } from '../events/upload-events.js';
import { maxUploadBytes } from '../model/chunk-grid.js';
import { newUploadId } from '../model/upload-id.js';
import { isFinal, isPartial, type UploadRecord } from '../model/upload-record.js';
import type { UploadReader } from '../read/upload-reader.js';
import type { OwnerSlots } from '../state/owner-slots.js';
import type { UploadTracker } from '../state/tracker.js';
import { writeInSegments } from '../writing/segmented-write.js';

export type ConcatenationParts = Readonly<{
  redis: RedisClient;
  keys: Keys;
  bytes: ByteStore;
  tracker: UploadTracker;
  reader: UploadReader;
  locker: Locker;
  chunkSizeBytes: number;
  maxSizeBytes: number;
  uploadTtlMs: number;
  /** Remove the partial uploads once the final one is assembled. */
  removePartials: boolean;
  /** Whether the final upload gets its SHA-256 recorded. */
  digest: boolean;
  events: UploadEvents;
  /** Owners' unfinished-upload counts: partials removed here stop counting at once. */
  slots?: OwnerSlots;
}>;

export type FinalUploadRequest = Readonly<{
  partials: readonly string[];
  /** The Upload-Concat header as received, answered back on HEAD. */
  uploadConcat: string;
  metadata: Record<string, string | null> | undefined;
  /** Who asks: every partial must be theirs (or have no owner), and so will the final be. */
  owner?: string;
  /** The asker's own size limit, when tighter than the server's (0: none). */
  maxSizeBytes?: number;
}>;

const LOCK_WAIT_MS = 10_000;

const notYours = (id: string) => new AppError('FORBIDDEN', 403, `Upload ${id} belongs to another user`);

/**
 * tus concatenation: a final upload made of completed partial uploads, in
 * order. "The length of the final upload MUST be the sum of the length of all
 * partial uploads." The final passes through `assembling` while its bytes are
 * copied (hashed on the way) and ends `completed` with its SHA-256, or
 * `failed` with a reason. The same list of partials sent again (a retried POST)
 * gets the same final upload, not a second copy.
 */
export class Concatenation {
  constructor(private readonly parts: ConcatenationParts) {}

  /**
   * Returns the final upload's ID, and whether this call made it. One
   * assembly per list of partials at a time, across instances (a lock named
   * after the list): a twin request waits for it, then gets the same final.
   */
  async concatenate(request: FinalUploadRequest): Promise<{ id: string; created: boolean }> {
    const { redis, keys, uploadTtlMs, locker } = this.parts;
    const digest = createHash('sha256').update(request.partials.join(' ')).digest('hex');
    const sameRequest = keys.concatenation(digest);
    const assembly = locker.newLock(`concat-${digest}`);
    await assembly.lock(AbortSignal.timeout(LOCK_WAIT_MS), () => {});
    try {
      const earlier = await this.reusableFinal(await redis.get(sameRequest), request.owner);
      if (earlier) return { id: earlier, created: false };
      // Locked before they are checked: none can be deleted or changed between the check and the copy.
      const locks = await this.lockAll([...new Set(request.partials)].sort());
      try {
        const partials = await this.completedPartials(request.partials, request.owner);
        const size = partials.reduce((sum, p) => sum + (p.size as number), 0);
        const ownerMax = request.maxSizeBytes || Number.POSITIVE_INFINITY;
        if (size > Math.min(ownerMax, maxUploadBytes(this.parts.chunkSizeBytes, this.parts.maxSizeBytes))) {
          throw new AppError('INVALID_REQUEST', 413, 'The final upload would exceed the maximum upload size');
        }
        const id = newUploadId();
        const createdAt = await this.createRecord(id, size, partials, request);
        await redis.set(sameRequest, id, 'PX', uploadTtlMs);
        await this.assemble(id, size, partials, createdAt);
        if (this.parts.removePartials) await this.removeAll(partials);
        return { id, created: true };
      } finally {
        for (const lock of locks) await lock.unlock();
      }
    } finally {
      await assembly.unlock();
    }
  }

  /**
   * An earlier final for the same partials: reused when complete. One still
   * `assembling` while we hold the assembly lock was left by a crash: it is
   * marked failed, and a new one is made.
   */
  private async reusableFinal(id: string | null, owner: string | undefined): Promise<string | undefined> {
    if (!id) return undefined;
    const record = await this.parts.reader.readRecord(id);
    if (record?.owner !== undefined && record.owner !== owner) throw notYours(id);
    if (record?.status === 'completed') return id;
    if (record?.status === 'assembling') {
      await this.parts.tracker.fail(id, 'concatenation was interrupted', record.expiresAt);
    }
    return undefined;
  }

  /** "Partial URLs are validated like any ID": each must exist, be partial, and be complete. */
  private async completedPartials(ids: readonly string[], owner: string | undefined): Promise<UploadRecord[]> {
    if (ids.length === 0)
      throw new AppError('INVALID_REQUEST', 400, 'Upload-Concat: final needs at least one partial upload URL');
    const records: UploadRecord[] = [];
    for (const id of ids) {
      const record = await this.parts.reader.readRecord(id);
      if (!record) throw new AppError('UPLOAD_NOT_FOUND', 404, `Partial upload ${id} was not found`);
      if (record.owner !== undefined && record.owner !== owner) throw notYours(id);
      if (!isPartial(record) || isFinal(record)) {
        throw new AppError('INVALID_REQUEST', 400, `Upload ${id} is not a partial upload (Upload-Concat: partial)`);
      }
      if (record.status !== 'completed') {
        throw new AppError(
          'INVALID_REQUEST',
          400,
          `Partial upload ${id} is not complete (${record.offset} of ${record.size ?? '?'} bytes)`,
        );
      }
      records.push(record);
    }
    return records;
  }

  /** The final's record, `assembling` from the start; its group is its partials' when they share one. */
  private async createRecord(id: string, size: number, partials: UploadRecord[], request: FinalUploadRequest) {
    const { tracker, bytes, chunkSizeBytes, uploadTtlMs } = this.parts;
    const groups = new Set(partials.map((p) => p.group));
    const group = groups.size === 1 ? [...groups][0] : undefined;
    const createdAt = Date.now();
    await tracker.create({
      id,
      size,
      chunkSize: chunkSizeBytes,
      metadata: request.metadata,
      createdAt,
      expiresAt: createdAt + uploadTtlMs,
      uploadConcat: request.uploadConcat,
      partials: request.partials,
      group,
      status: 'assembling',
      owner: request.owner,
    });
    await bytes.create(id);
    if (group !== undefined) await tracker.addToGroup(group, request.owner, id);
    await this.parts.events.emit({ type: 'created', id });
    return createdAt;
  }

  /** Copies the partials' bytes in order, hashing them on the way; progress advances chunk by chunk. */
  private async assemble(id: string, size: number, partials: UploadRecord[], createdAt: number): Promise<void> {
    const { tracker, bytes, chunkSizeBytes, uploadTtlMs } = this.parts;
    const hash = createHash('sha256');
    let completed: boolean;
    try {
      let offset = 0;
      for (const partial of partials) {
        offset = await writeInSegments(
          bytes.read(partial.id),
          offset,
          chunkSizeBytes,
          async (segment, at) => {
            const end = await bytes.write(segment, id, at);
            await tracker.recordProgress(id, end);
            return end;
          },
          this.parts.digest
            ? (data) => {
                hash.update(data);
              }
            : undefined,
        );
      }
      if (offset !== size) throw new Error(`assembled ${offset} of ${size} bytes`);
      await tracker.recordProgress(id, offset);
      completed = await tracker.complete(id, this.parts.digest ? hash.digest('hex') : undefined);
    } catch (error) {
      const reason = `concatenation failed: ${(error as Error).message}`;
      if (await tracker.fail(id, reason, createdAt + uploadTtlMs).catch(() => false)) {
        await this.parts.events.emit({ type: 'failed', id, reason });
      }
      throw new AppError('UPLOAD_FINALIZATION_FAILED', 500, 'The partial uploads could not be concatenated');
    }
    if (completed) await this.parts.events.emit({ type: 'completed', id });
  }

  private async removeAll(partials: UploadRecord[]): Promise<void> {
    for (const partial of new Map(partials.map((p) => [p.id, p])).values()) {
      await this.parts.bytes.remove(partial.id);
      await this.parts.tracker.remove(partial.id);
      if (partial.owner !== undefined) await this.parts.slots?.release(partial.owner, partial.id);
    }
  }

  /** Locks in a fixed (sorted) order, so two concatenations sharing partials cannot deadlock. */
  private async lockAll(ids: string[]): Promise<Lock[]> {
    const locks: Lock[] = [];
    try {
      for (const id of ids) {
        const lock = this.parts.locker.newLock(id);
        await lock.lock(AbortSignal.timeout(LOCK_WAIT_MS), () => {});
        locks.push(lock);
      }
    } catch (error) {
      for (const lock of locks) await lock.unlock();
      throw error;
    }
    return locks;
  }
}
