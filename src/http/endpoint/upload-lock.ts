import type { ServerResponse } from 'node:http';
import type { UploadLock, UploadLocker } from '../../uploads/coordination/upload-lock.js';

/**
 * Takes upload `id`'s lock for a request, giving up if its client goes away
 * while it waits. Another request that asks for the lock while this one holds
 * it ends this one's reading of its body (the append listens to its lock: the
 * draft's "The server MAY terminate any ongoing [...] upload append for the
 * same upload URL"), and the bytes that came are kept and recorded before the
 * lock passes.
 */
export async function lockUpload(locker: UploadLocker, id: string, res: ServerResponse): Promise<UploadLock> {
  const lock = locker.newLock(id);
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.once('close', onClose);
  try {
    await lock.lock(gone.signal, () => {});
  } finally {
    res.off('close', onClose);
  }
  return lock;
}

/** Runs `work` under upload `id`'s lock (see lockUpload), and lets the lock go. */
export async function underLock<T>(
  locker: UploadLocker,
  id: string,
  res: ServerResponse,
  work: (lock: UploadLock) => Promise<T>,
): Promise<T> {
  const lock = await lockUpload(locker, id, res);
  try {
    return await work(lock);
  } finally {
    await lock.unlock();
  }
}
