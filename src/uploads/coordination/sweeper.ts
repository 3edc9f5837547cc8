import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { UploadEvents } from '../events/upload-events.js';
import type { UploadRecord } from '../model/upload-record.js';
import type { UploadServices } from './upload-services.js';

export type SweeperDeps = UploadServices &
  Readonly<{
    logger: Logger;
    events: UploadEvents;
    /** Shown every record in the orphan pass (see WebhookOutbox.revisit). */
    revisit?: (record: UploadRecord, now: number) => Promise<void>;
  }>;

export type SweeperOptions = Readonly<{
  /** How often the orphan pass runs, across all instances. */
  orphanIntervalMs: number;
  /** Bytes or records younger than this are never orphans (a creation may be under way). */
  orphanGraceMs: number;
  /** A sweep stops after about this long; the next one goes on. */
  budgetMs: number;
}>;

export type SweepReport = { ran: boolean; expired: number; orphanFiles: number; orphanRecords: number };

const BATCH = 200;

/**
 * Removes what nobody will resume, one instance at a time (a Redis lock):
 * - uploads due in the expiry index (never a scan of the keyspace): unfinished
 *   ones past their expiry, completed ones past their retention; Redis expires
 *   the keys by itself, this removes the bytes with them;
 * - now and then, files with no record and records with no file.
 * Each upload is removed under its own lock, bytes first, so a request in
 * progress is never cut mid-write and nothing is left that nothing refers to.
 * An upload whose record says it lives longer (it completed) is re-indexed.
 */
export class Sweeper {
  constructor(
    private readonly deps: SweeperDeps,
    private readonly options: SweeperOptions,
  ) {}

  async sweep(now = Date.now()): Promise<SweepReport> {
    const { redis, keys } = this.deps;
    const token = randomUUID();
    const report: SweepReport = { ran: false, expired: 0, orphanFiles: 0, orphanRecords: 0 };
    if ((await redis.set(keys.sweeperLock, token, 'PX', this.options.budgetMs * 2, 'NX')) !== 'OK') {
      void this.deps.events.emit({ type: 'swept', ran: false });
      return report;
    }
    report.ran = true;
    const deadline = Date.now() + this.options.budgetMs;
    try {
      report.expired = await this.removeDue(now, deadline);
      if ((await redis.set(keys.orphanPassMarker, now, 'PX', this.options.orphanIntervalMs, 'NX')) === 'OK') {
        report.orphanFiles = await this.removeFilesWithoutRecord(now, deadline);
        report.orphanRecords = await this.removeRecordsWithoutFile(now, deadline);
      }
    } finally {
      await redis.releaseLock(keys.sweeperLock, token).catch(() => {});
      void this.deps.events.emit({ type: 'swept', ran: report.ran });
    }
    return report;
  }

  private async removeDue(now: number, deadline: number): Promise<number> {
    let removed = 0;
    const skipped = new Set<string>();
    while (Date.now() < deadline) {
      const due = (await this.deps.reader.dueForRemoval(now, BATCH + skipped.size)).filter((id) => !skipped.has(id));
      if (due.length === 0) break;
      for (const id of due) {
        const outcome = await this.underLock(id, async () => {
          const record = await this.deps.reader.readRecord(id);
          if (record && record.expiresAt > now) {
            await this.deps.tracker.indexes.due(id, record.expiresAt);
            return false;
          }
          const { hadBytes, hadRecord } = await this.deps.lifecycle.remove(id, 'expired', record);
          return hadBytes || hadRecord;
        });
        if (outcome === 'busy') skipped.add(id);
        else if (outcome) removed++;
      }
    }
    return removed;
  }

  private async removeFilesWithoutRecord(now: number, deadline: number): Promise<number> {
    const { bytes, redis, keys } = this.deps;
    let removed = 0;
    let batch: string[] = [];
    const flush = async () => {
      // One EXISTS each, issued together: auto-pipelined per node (a cluster spreads them over nodes).
      const exists = await Promise.all(batch.map((id) => redis.exists(keys.forUpload(id).upload)));
      const orphans = batch.filter((_, i) => exists[i] === 0);
      batch = [];
      for (const id of orphans) {
        const outcome = await this.underLock(id, async () => {
          if ((await this.deps.reader.readRecord(id)) !== undefined) return false;
          // As a request finding them would (TrackedStore.getUpload): bytes whose record is gone have expired.
          return (await this.deps.lifecycle.remove(id, 'expired')).hadBytes;
        });
        if (outcome === true) removed++;
      }
    };
    for await (const file of bytes.list()) {
      if (Date.now() > deadline) break;
      if (now - file.modifiedAt < this.options.orphanGraceMs) continue;
      batch.push(file.id);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    return removed;
  }

  /**
   * Walks the index (resuming where the last pass stopped): shows each record
   * to `revisit`, and removes records whose file is gone; only uploads that
   * look orphaned are locked and checked again.
   */
  private async removeRecordsWithoutFile(now: number, deadline: number): Promise<number> {
    const { redis, keys, bytes, reader, lifecycle, revisit, logger } = this.deps;
    const isOrphan = async (record: UploadRecord | undefined) =>
      record !== undefined &&
      now - record.createdAt >= this.options.orphanGraceMs &&
      (await bytes.bytesStored(record.id)) === undefined;
    let removed = 0;
    // Where the last pass stopped: a bucket and a ZSCAN cursor in its expiry index.
    const [savedBucket, savedCursor] = ((await redis.get(keys.orphanScanCursor)) ?? '0:0').split(':');
    let bucket = Number(savedBucket) < keys.indexes.length ? Number(savedBucket) || 0 : 0;
    let cursor = savedCursor ?? '0';
    do {
      const index = keys.indexes[bucket] as (typeof keys.indexes)[number];
      const [next, flat] = await redis.zscan(index.expiry, cursor, 'COUNT', BATCH);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) {
        const id = flat[i] as string;
        const record = await reader.readRecord(id);
        if (record && revisit) {
          await revisit(record, now).catch((error) => logger.warn({ err: error, uploadId: id }, 'revisit failed'));
        }
        if (!(await isOrphan(record))) continue;
        const outcome = await this.underLock(id, async () => {
          const again = await reader.readRecord(id);
          if (!again || !(await isOrphan(again))) return false;
          // As a request finding it would (TrackedStore.getUpload).
          return (await lifecycle.remove(id, 'lost', again)).hadRecord;
        });
        if (outcome === true) removed++;
      }
      // This bucket walked: the next one, or the end of the pass after the last.
      if (cursor === '0') bucket = (bucket + 1) % keys.indexes.length;
    } while ((cursor !== '0' || bucket !== 0) && Date.now() < deadline);
    await redis.set(keys.orphanScanCursor, `${bucket}:${cursor}`, 'PX', this.options.orphanIntervalMs * 2);
    return removed;
  }

  /** Runs `work` under the upload's lock if it is free now; never asks a request holding it to stop. */
  private async underLock<T>(id: string, work: () => Promise<T>): Promise<T | 'busy'> {
    const lock = await this.deps.locker.tryLock(id).catch(() => undefined);
    if (!lock) return 'busy';
    try {
      return await work();
    } catch (error) {
      this.deps.logger.warn({ err: error, uploadId: id }, 'sweeper could not remove an upload');
      return 'busy';
    } finally {
      await lock.unlock();
    }
  }
}
