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

/** What is published: the event only. Each instance that has listeners reads the upload's row itself. */
type Published = { type: UploadEvent['type']; id: string; at: number };

/**
 * Publishes each change to an upload on one Redis channel, so that a dashboard
 * connected to any instance sees a PATCH that another instance is receiving.
 * The message is the event alone: the row is read by the instances that have
 * someone watching (see UploadEventFeed), not by the writer for every change.
 * Progress arrives here at most once per PROGRESS_INTERVAL_MS per upload (the
 * writer's throttle).
 */
export function publishUploadEvents(redis: RedisClient, keys: Keys, logger: Logger) {
  return (event: UploadEvent): void => {
    if (!PUBLISHED.has(event.type) || !('id' in event)) return;
    const message: Published = { type: event.type, id: event.id, at: Date.now() };
    redis
      .publish(keys.eventsChannel, JSON.stringify(message))
      .catch((error) => logger.warn({ err: error, uploadId: event.id }, 'could not publish an upload event'));
  };
}

/**
 * Hears the channel on its own connection and hands each message, with the
 * upload's current row, to the listeners of this instance (the live-update
 * streams). Rows are read only while someone listens, one message after the
 * other, so that listeners get them in the order they were published.
 */
export class UploadEventFeed {
  private readonly listeners = new Set<(message: LiveMessage) => void>();
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly subscriber: RedisClient,
    private readonly keys: Keys,
    private readonly reader: UploadReader,
    private readonly logger: Logger,
  ) {
    subscriber.on('error', (error) => logger.debug({ err: error }, 'upload events subscriber connection error'));
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== keys.eventsChannel || this.listeners.size === 0) return;
      let published: Published;
      try {
        published = JSON.parse(text) as Published;
      } catch {
        return;
      }
      this.reading = this.reading.then(() => this.deliver(published));
    });
  }

  private async deliver(published: Published): Promise<void> {
    const gone = published.type === 'terminated' || published.type === 'expired';
    let record: Awaited<ReturnType<UploadReader['readRecord']>>;
    try {
      record = gone ? undefined : await this.reader.readRecord(published.id);
    } catch (error) {
      this.logger.debug({ err: error, uploadId: published.id }, 'could not read an upload for its live event');
      return;
    }
    const message: LiveMessage = { ...published, upload: record ? rowView(record) : null };
    for (const listener of this.listeners) listener(message);
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
