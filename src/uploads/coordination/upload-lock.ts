import type { Lock } from '@tus/utils';

/**
 * One upload's lock as the request holding it sees it: @tus/server's Lock, and
 * what a writer under it needs to know.
 */
export interface UploadLock extends Lock {
  /** Aborted once this process may no longer write the upload (the lock is lost, or may be). */
  readonly fence: AbortSignal;
  /** Held, fenced by nothing, and by an instance nobody can have taken for dead. */
  valid(): boolean;
  /**
   * Checked before every write: undefined when the holder may write now; else a
   * promise that resolves once it may again (after a Redis stall) or rejects
   * once it may not (LOCK_LOST, or 503 when the stall outlasts the command timeout).
   */
  writable(): Promise<void> | undefined;
  /** Whether another request asked for this lock while it was held. */
  readonly asked: boolean;
  /** Calls `listener` when another request asks for this lock (at once if one has); returns its removal. */
  onAsked(listener: () => void): () => void;
  /** What was read together with the lock (see LockerHooks.readAlongside), once. */
  takeRead(): Promise<Record<string, string>> | undefined;
}

/** What gives out upload locks (the RedisLocker). */
export type UploadLocker = Readonly<{ newLock(id: string): UploadLock }>;
