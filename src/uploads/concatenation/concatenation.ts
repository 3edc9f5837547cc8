import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { appError } from '../../errors/app-error.js';
import type { UploadLock } from '../coordination/redis-locker.js';
import type { UploadServices } from '../coordination/upload-services.js';
import { maxUploadBytes } from '../model/chunk-grid.js';
import { newUploadId } from '../model/upload-id.js';
import { isFinal, isPartial, type UploadRecord } from '../model/upload-record.js';
import { writeInSegments } from '../writing/segmented-write.js';

export type ConcatenationDeps = UploadServices &
  Readonly<{
    chunkSizeBytes: number;
    maxSizeBytes: number;
    uploadTtlMs: number;
    /** Remove the partial uploads once the final one is assembled. */
    removePartials: boolean;
    /** Whether the final upload gets its SHA-256 recorded. */
    digest: boolean;
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

const notYours = (id: string) => appError('FORBIDDEN', { reason: `Upload ${id} belongs to another user` });

/**
 * tus concatenation: a final upload made of completed partial uploads, in
 * order. "The length of the final upload MUST be the sum of the length of all
 * partial uploads." The final passes through `assembling` while its bytes are
 * copied (hashed on the way) and ends `completed` with its SHA-256, or
 * `failed` with a reason. The same list of partials sent again (a retried POST)
 * gets the same final upload, not a second copy.
 */
export class Concatenation {
  constructor(private readonly deps: ConcatenationDeps) {}

  /**
   * Returns the final upload's ID, and whether this call made it. One
   * assembly per list of partials at a time, across instances (a lock named
   * after the list): a twin request waits for it, then gets the same final.
   */
  async concatenate(request: FinalUploadRequest): Promise<{ id: string; created: boolean }> {
    const { redis, keys, uploadTtlMs, locker } = this.deps;
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
        if (
          size >
          Math.min(ownerMax, maxUploadBytes(this.deps.chunkSizeBytes, this.deps.maxSizeBytes, this.deps.bytes.limits))
        ) {
          throw appError('FINAL_UPLOAD_TOO_LARGE');
        }
        const id = newUploadId();
        await this.createFinal(id, size, partials, request);
        await redis.set(sameRequest, id, 'PX', uploadTtlMs);
        await this.deps.lifecycle.finish(id, 'concatenation', () => this.assemble(id, size, partials));
        if (this.deps.removePartials) await this.removeAll(partials);
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
    const record = await this.deps.reader.readRecord(id);
    if (record?.owner !== undefined && record.owner !== owner) throw notYours(id);
    if (record?.status === 'completed') return id;
    if (record?.status === 'assembling') await this.deps.lifecycle.fail(id, 'concatenation was interrupted');
    return undefined;
  }

  /** "Partial URLs are validated like any ID": each must exist, be partial, and be complete. */
  private async completedPartials(ids: readonly string[], owner: string | undefined): Promise<UploadRecord[]> {
    if (ids.length === 0) throw appError('NO_PARTIALS');
    const records: UploadRecord[] = [];
    for (const id of ids) {
      const record = await this.deps.reader.readRecord(id);
      if (!record) throw appError('PARTIAL_NOT_FOUND', { id });
      if (record.owner !== undefined && record.owner !== owner) throw notYours(id);
      if (!isPartial(record) || isFinal(record)) {
        throw appError('NOT_A_PARTIAL_UPLOAD', { id });
      }
      if (record.status !== 'completed') {
        throw appError('PARTIAL_NOT_COMPLETE', { id, offset: record.offset, size: record.size });
      }
      records.push(record);
    }
    return records;
  }

  /** The final upload, `assembling` from the start; its group is its partials' when they share one. */
  private async createFinal(id: string, size: number, partials: UploadRecord[], request: FinalUploadRequest) {
    const { chunkSizeBytes, uploadTtlMs } = this.deps;
    const groups = new Set(partials.map((p) => p.group));
    const createdAt = Date.now();
    await this.deps.lifecycle.create({
      id,
      size,
      chunkSize: chunkSizeBytes,
      metadata: request.metadata,
      createdAt,
      expiresAt: createdAt + uploadTtlMs,
      uploadConcat: request.uploadConcat,
      partials: request.partials,
      group: groups.size === 1 ? [...groups][0] : undefined,
      status: 'assembling',
      owner: request.owner,
    });
  }

  /**
   * The partials' bytes, in order, into the final upload; progress advances
   * part by part. Resolves to the SHA-256 (undefined when none is recorded).
   * A byte store that can assemble them itself does (S3 copies them
   * server-side, so they never pass through here); the digest then costs one
   * read of the final object. Otherwise they are copied through, hashed on the way.
   */
  private async assemble(id: string, size: number, partials: UploadRecord[]): Promise<string | undefined> {
    const { tracker, bytes } = this.deps;
    if (!bytes.concatenate) return this.copyThrough(id, size, partials);
    const sources = partials.map((p) => ({ id: p.id, size: p.size as number }));
    await bytes.concatenate(id, sources, async (end) => void (await tracker.recordProgress(id, end)));
    await bytes.seal(id);
    if (!this.deps.digest) return undefined;
    const hash = createHash('sha256');
    await pipeline(bytes.read(id), hash);
    return hash.digest('hex');
  }

  /** Copies the partials' bytes in order through this process, hashing them on the way. */
  private async copyThrough(id: string, size: number, partials: UploadRecord[]): Promise<string | undefined> {
    const { tracker, bytes, chunkSizeBytes } = this.deps;
    const hash = this.deps.digest ? createHash('sha256') : undefined;
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
        {
          onData:
            hash &&
            ((data) => {
              hash.update(data);
            }),
        },
      );
    }
    if (offset !== size) throw new Error(`assembled ${offset} of ${size} bytes`);
    await tracker.recordProgress(id, offset);
    await bytes.seal(id);
    return hash?.digest('hex');
  }

  private async removeAll(partials: UploadRecord[]): Promise<void> {
    for (const partial of new Map(partials.map((p) => [p.id, p])).values()) {
      await this.deps.lifecycle.remove(partial.id, 'merged', partial);
    }
  }

  /** Locks in a fixed (sorted) order, so two concatenations sharing partials cannot deadlock. */
  private async lockAll(ids: string[]): Promise<UploadLock[]> {
    const locks: UploadLock[] = [];
    try {
      for (const id of ids) {
        const lock = this.deps.locker.newLock(id);
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
