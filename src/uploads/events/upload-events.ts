import type { UploadRecord } from '../model/upload-record.js';

/**
 * What happens to uploads, as it happens: emitted by the store, the writer,
 * the concatenation and the sweeper once the change is recorded in Redis.
 * `terminated` and `expired` carry the record as it was before removal.
 */
export type UploadEvent =
  | { type: 'created'; id: string }
  | { type: 'received'; id: string; bytes: number }
  | { type: 'progress'; id: string }
  | { type: 'completed'; id: string }
  | { type: 'failed'; id: string; reason: string }
  | { type: 'terminated'; id: string; record?: UploadRecord }
  | { type: 'expired'; id: string; bytes: number; record?: UploadRecord }
  | { type: 'swept'; ran: boolean };

/**
 * A consumer of events. One that returns a promise is awaited by `emit`: the
 * webhook outbox is written this way, so that a request is answered only once
 * the events it caused are durable.
 */
export type UploadEventConsumer = (event: UploadEvent) => void | Promise<void>;

/** `emit` never rejects: a consumer's failure is reported, and the state it describes is in Redis regardless. */
export type UploadEvents = { emit(event: UploadEvent): Promise<void> };

/** An unfinished upload whose bytes are no longer on disk (removed or lost under it). */
export const bytesLost = (id: string): UploadEvent => ({
  type: 'failed',
  id,
  reason: 'its bytes are no longer on disk',
});

/** Fans events out to several consumers; one that fails does not stop the others. */
export function fanOut(
  consumers: ReadonlyArray<UploadEventConsumer>,
  onError: (error: unknown, event: UploadEvent) => void,
): UploadEvents {
  return {
    async emit(event) {
      const pending: Promise<void>[] = [];
      for (const consume of consumers) {
        try {
          const result = consume(event);
          if (result) pending.push(result.catch((error) => onError(error, event)));
        } catch (error) {
          onError(error, event);
        }
      }
      if (pending.length > 0) await Promise.all(pending);
    },
  };
}
