import type { Locker } from '@tus/utils';
import type { ByteStore } from './byte-store.js';
import type { UploadReader } from './progress.js';
import type { UploadTracker } from './tracker.js';

export type SweepParts = Readonly<{ bytes: ByteStore; tracker: UploadTracker; reader: UploadReader; locker: Locker }>;

const BATCH = 100;
const LOCK_WAIT_MS = 1000;

/**
 * Removes the keys and bytes of every upload whose time has come, found through
 * the expiry index (never a scan of the keyspace): unfinished uploads past
 * their expiry, completed ones past their retention. Redis expires the keys by
 * itself; this is what removes the bytes with them. Each upload is removed
 * under its lock, so a request in progress is never cut short mid-write, and an
 * upload whose record says it lives longer (it completed) is re-indexed, not
 * removed. Returns how many uploads were removed.
 */
export async function sweepExpired(parts: SweepParts, now: number): Promise<number> {
  const { bytes, tracker, reader, locker } = parts;
  let removed = 0;
  for (const id of await reader.dueForRemoval(now, BATCH)) {
    const lock = locker.newLock(id);
    try {
      await lock.lock(AbortSignal.timeout(LOCK_WAIT_MS), () => {});
    } catch {
      continue; // busy: the next sweep tries again
    }
    try {
      const record = await reader.readRecord(id);
      if (record && record.expiresAt > now) {
        await tracker.index(id, record.expiresAt);
        continue;
      }
      const hadRecord = await tracker.remove(id);
      const hadBytes = await bytes.remove(id);
      if (hadRecord || hadBytes) removed++;
    } finally {
      await lock.unlock();
    }
  }
  return removed;
}
