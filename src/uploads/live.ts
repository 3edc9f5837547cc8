import type { Logger } from '../log.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import type { UploadEvent } from './events.js';
import type { UploadReader } from './progress.js';
import { type RowView, rowView } from './views.js';

/** What every instance hears of a change to an upload: the event, and the upload as it now is (none once gone). */
export type LiveMessage = { type: UploadEvent['type']; id: string; at: number; upload: RowView | null };

const PUBLISHED: ReadonlySet<UploadEvent['type']> = new Set([
  'created',
  'progress',
  'completed',
  'failed',
  'terminated',
  'expired',
]);

/**
 * Publishes each change to an upload on one Redis channel, with the upload's
 * current row, so that a dashboard connected to any instance sees a PATCH that
 * another instance is receiving. Progress arrives here at most once per
 * PROGRESS_INTERVAL_MS per upload (the writer's throttle).
 */
export function publishUploadEvents(redis: RedisClient, keys: Keys, reader: UploadReader, logger: Logger) {
  return (event: UploadEvent): void => {
    if (!PUBLISHED.has(event.type) || !('id' in event)) return;
    const gone = event.type === 'terminated' || event.type === 'expired';
    void (async () => {
      const record = gone ? undefined : await reader.readRecord(event.id);
      const message: LiveMessage = {
        type: event.type,
        id: event.id,
        at: Date.now(),
        upload: record ? rowView(record) : null,
      };
      await redis.publish(keys.eventsChannel, JSON.stringify(message));
    })().catch((error) => logger.warn({ err: error, uploadId: event.id }, 'could not publish an upload event'));
  };
}

/**
 * Hears the channel on its own connection and hands each message to the
 * listeners of this instance (the live-update streams).
 */
export class UploadEventFeed {
  private readonly listeners = new Set<(message: LiveMessage) => void>();

  constructor(
    private readonly subscriber: RedisClient,
    private readonly keys: Keys,
    logger: Logger,
  ) {
    subscriber.on('error', (error) => logger.debug({ err: error }, 'upload events subscriber connection error'));
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== keys.eventsChannel) return;
      let message: LiveMessage;
      try {
        message = JSON.parse(text) as LiveMessage;
      } catch {
        return;
      }
      for (const listener of this.listeners) listener(message);
    });
  }

  async start(): Promise<void> {
    if (this.subscriber.status === 'wait') await this.subscriber.connect();
    await this.subscriber.subscribe(this.keys.eventsChannel);
  }

  stop(): void {
    this.subscriber.disconnect();
  }

  listen(listener: (message: LiveMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
