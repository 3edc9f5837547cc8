import type { Logger } from '../../log.js';
import { listen, publish } from '../../redis/channels.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import type { UploadReader } from '../read/upload-reader.js';
import { type RowView, rowView } from '../read/views.js';
import type { UploadEvent } from './upload-events.js';

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
 * Publishes each change to an upload on Redis pub/sub, so that a dashboard
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
    publish(redis, keys.events, event.id, JSON.stringify(message)).catch((error) =>
      logger.warn({ err: error, uploadId: event.id }, 'could not publish an upload event'),
    );
  };
}

/** Messages waiting for their rows, at most; past it, progress is dropped (the next one supersedes it). */
const MAX_PENDING = 10_000;

type Listener = Readonly<{ uploadId: string | undefined; hear: (message: LiveMessage) => void }>;

/**
 * Hears the channel on its own connection and hands each message, with the
 * upload's current row, to the listeners of this instance (the live-update
 * streams). A row is read only when a listener wants that upload (or all of
 * them); the reads run side by side and the messages are handed out in the
 * order they were published.
 */
export class UploadEventFeed {
  private readonly listeners = new Set<Listener>();
  /** Messages in publish order, each with its row being read. */
  private readonly pending: Array<{ published: Published; row: Promise<RowView | null | undefined> }> = [];
  private draining = false;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly keys: Keys,
    private readonly reader: UploadReader,
    private readonly logger: Logger,
  ) {
    subscriber.on('error', (error) => logger.debug({ err: error }, 'upload events subscriber connection error'));
  }

  private heard(text: string): void {
    let published: Published;
    try {
      published = JSON.parse(text) as Published;
    } catch {
      return;
    }
    this.hear(published);
  }

  private hear(published: Published): void {
    if (!this.wanted(published.id)) return;
    if (this.pending.length >= MAX_PENDING && published.type === 'progress') return;
    const gone = published.type === 'terminated' || published.type === 'expired';
    const row = gone
      ? Promise.resolve(null)
      : this.reader.readRecord(published.id).then(
          (record) => (record ? rowView(record) : null),
          (error) => {
            this.logger.debug({ err: error, uploadId: published.id }, 'could not read an upload for its live event');
            return undefined;
          },
        );
    this.pending.push({ published, row });
    if (!this.draining) void this.drain();
  }

  private wanted(id: string): boolean {
    for (const listener of this.listeners) if (listener.uploadId === undefined || listener.uploadId === id) return true;
    return false;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        const row = await next.row;
        if (row === undefined) continue; // unreadable: skipped, the next event carries the state
        const message: LiveMessage = { ...next.published, upload: row };
        for (const listener of this.listeners) {
          if (listener.uploadId !== undefined && listener.uploadId !== message.id) continue;
          try {
            listener.hear(message);
          } catch (error) {
            this.logger.warn({ err: error }, 'a live-update listener failed');
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }

  async start(): Promise<void> {
    await listen(this.subscriber, this.keys.events, (text) => this.heard(text));
  }

  stop(): void {
    this.subscriber.disconnect();
  }

  /** Hears every upload's changes, or only those of `uploadId`; returns how to stop. */
  listen(hear: (message: LiveMessage) => void, uploadId?: string): () => void {
    const listener: Listener = { uploadId, hear };
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
