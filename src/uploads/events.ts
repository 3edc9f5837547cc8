/**
 * What happens to uploads, as it happens: emitted by the store, the writer,
 * the concatenation and the sweeper once the change is recorded in Redis.
 * Consumers (metrics now; live updates and webhooks later) must not throw and
 * must not block: an event is a notification, the state is in Redis.
 */
export type UploadEvent =
  | { type: 'created'; id: string }
  | { type: 'received'; id: string; bytes: number }
  | { type: 'progress'; id: string }
  | { type: 'completed'; id: string }
  | { type: 'failed'; id: string; reason: string }
  | { type: 'terminated'; id: string }
  | { type: 'expired'; id: string; bytes: number }
  | { type: 'swept'; ran: boolean };

export type UploadEvents = { emit(event: UploadEvent): void };

export const noEvents: UploadEvents = { emit: () => {} };

/** Fans events out to several consumers; one that throws does not stop the others. */
export function fanOut(
  consumers: ReadonlyArray<(event: UploadEvent) => void>,
  onError: (error: unknown) => void,
): UploadEvents {
  return {
    emit(event) {
      for (const consume of consumers) {
        try {
          consume(event);
        } catch (error) {
          onError(error);
        }
      }
    },
  };
}
