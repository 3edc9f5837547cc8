import { AppError, appError } from '../../errors/app-error.js';
import { isRedisUnavailable } from '../../redis/client.js';
import type { ByteStore } from '../bytes/byte-store.js';
import { bytesLost, type UploadEvents } from '../events/upload-events.js';
import { type NewUpload, newRecord, type UploadRecord } from '../model/upload-record.js';
import type { UploadReader } from '../read/upload-reader.js';
import type { OwnerSlots } from '../state/owner-slots.js';
import type { UploadTracker } from '../state/tracker.js';

export type LifecycleDeps = Readonly<{
  bytes: ByteStore;
  tracker: UploadTracker;
  reader: UploadReader;
  events: UploadEvents;
  /** Counts each owner's unfinished uploads against their limit. */
  slots: OwnerSlots;
}>;

/**
 * Why an upload is removed, which decides the event it ends with:
 * - `terminated`: its client deleted it (tus termination) → `terminated`;
 * - `expired`: unfinished past its expiry, completed past its retention, or
 *   its record gone (expired, lost) while bytes remain → `expired`;
 * - `lost`: its bytes are gone while its record remains → `failed` for an
 *   unfinished upload; none for a completed one, whose file a worker may
 *   move away on purpose (upload.completed said where it was);
 * - `merged`: a partial upload joined into a final one → none: it already
 *   ended `completed`, and the final's upload.completed lists it in `partials`.
 */
/** A failure that says "not now" (503): worth trying again later, never a reason to fail an upload. */
export const isUnavailable = (error: unknown): boolean => error instanceof AppError && error.status === 503;

export type RemovalReason = 'terminated' | 'expired' | 'lost' | 'merged';

export type Removal = Readonly<{ hadBytes: boolean; hadRecord: boolean; record: UploadRecord | undefined }>;

/** What failed when an upload could not be finished: its own digest, or copying its partials. */
export type FinishStep = 'finalization' | 'concatenation';

/**
 * Every change of an upload's existence and final status, each in one place
 * with one policy: what is written, in which order, what is undone when a
 * step fails, and which event says so. The store, the writer, concatenation
 * and the sweeper all come through here.
 */
export class UploadLifecycle {
  constructor(private readonly deps: LifecycleDeps) {}

  /**
   * Owner's slot (when `slotLimit` > 0), record, bytes, group; then `created`.
   * A step that fails undoes those before it, in reverse: a refused or failed
   * creation leaves nothing behind.
   */
  async create(upload: NewUpload, slotLimit = 0): Promise<UploadRecord> {
    const { slots, tracker, bytes } = this.deps;
    const undo: Array<() => Promise<unknown>> = [];
    try {
      if (upload.owner !== undefined && slotLimit > 0) {
        // Before anything is created (and so before any byte is accepted).
        await slots.claim(upload.owner, upload.id, slotLimit, upload.createdAt);
        const owner = upload.owner;
        undo.push(() => slots.release(owner, upload.id));
      }
      await tracker.create(upload);
      undo.push(() => tracker.remove(upload.id));
      await bytes.create(upload.id, { chunkSize: upload.chunkSize });
      undo.push(() => bytes.remove(upload.id));
      if (upload.group !== undefined) await tracker.addToGroup(upload.group, upload.owner, upload.id);
    } catch (error) {
      for (const step of undo.reverse()) await step().catch(() => {});
      throw error;
    }
    await this.deps.events.emit({ type: 'created', id: upload.id });
    return newRecord(upload);
  }

  /**
   * assembling → completed, with the SHA-256 `digest` computes (undefined: no
   * digest recorded), or → failed with the reason `digest` failed for.
   * Redis or the byte store being unavailable leaves the upload assembling
   * (the next request that finds it so finishes it) and is a 503 for the
   * caller, never a 500, and never a failed upload.
   */
  async finish(
    id: string,
    step: FinishStep,
    digest: () => Promise<string | undefined>,
    /** The offset of the write that stored the last byte, recorded with the completion (one round trip). */
    recorded?: number,
  ): Promise<void> {
    let completed: boolean;
    try {
      completed = await this.deps.tracker.complete(id, await digest(), Date.now(), recorded);
    } catch (error) {
      if (isRedisUnavailable(error)) throw appError('STATE_STORE_UNAVAILABLE');
      // Unavailable: not now; gone: deleted or expired meanwhile. Neither is a failed upload.
      if (isUnavailable(error) || (error instanceof AppError && error.code === 'UPLOAD_GONE')) throw error;
      await this.fail(id, `${step} failed: ${(error as Error).message}`).catch(() => {});
      throw appError(step === 'concatenation' ? 'CONCATENATION_FAILED' : 'UPLOAD_FINALIZATION_FAILED');
    }
    // Awaited: the request that completed the upload is answered once its webhooks are in the outbox.
    if (completed) await this.deps.events.emit({ type: 'completed', id });
  }

  /** assembling → failed, with a reason (it keeps its expiry); `failed` when it moved. */
  async fail(id: string, reason: string): Promise<void> {
    const record = await this.deps.reader.readRecord(id);
    if (record && (await this.deps.tracker.fail(id, reason, record.expiresAt))) {
      await this.deps.events.emit({ type: 'failed', id, reason });
    }
  }

  /**
   * Bytes first, then the record and its index entries, then the owner's
   * slot: a crash in between leaves a record without bytes, which the next
   * request or the sweeper removes; the other order could leave bytes that
   * nothing refers to. Then the event `reason` implies (see RemovalReason).
   * `record` is the upload's record when the caller has just read it.
   */
  async remove(id: string, reason: RemovalReason, record?: UploadRecord): Promise<Removal> {
    const { bytes, tracker, slots, events } = this.deps;
    const before = record ?? (await this.deps.reader.readRecord(id));
    // Announced before the record goes, so that the event can say what the upload was.
    if (reason === 'lost' && before && before.status !== 'completed') await events.emit(bytesLost(id));
    const size = reason === 'expired' ? ((await bytes.bytesStored(id)) ?? 0) : 0;
    const hadBytes = await bytes.remove(id);
    const hadRecord = await tracker.remove(id);
    if (before?.owner !== undefined) await slots.release(before.owner, id);
    if (reason === 'terminated' && (hadBytes || hadRecord)) {
      await events.emit({ type: 'terminated', id, record: before });
    }
    if (reason === 'expired' && (hadBytes || hadRecord)) {
      await events.emit({ type: 'expired', id, bytes: hadBytes ? size : 0, record: before });
    }
    return { hadBytes, hadRecord, record: before };
  }
}
