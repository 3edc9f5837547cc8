import type { WebhookConfig } from '../config/load-config.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import type { UploadEvent, UploadEventConsumer } from '../uploads/events/upload-events.js';
import type { UploadRecord } from '../uploads/model/upload-record.js';
import type { UploadReader } from '../uploads/read/upload-reader.js';
import { idempotencyKey, type WebhookEventType, type WebhookPayload, webhookType, webhookUpload } from './payload.js';

export type OutboxDeps = Readonly<{
  redis: RedisClient;
  keys: Keys;
  reader: UploadReader;
  /** Where an upload's bytes are (a file path, or s3://bucket/key). */
  storagePath: (id: string) => string | undefined;
  config: WebhookConfig;
  tusPath: string;
  logger: Logger;
  /** Called once deliveries are in the outbox, so this instance's dispatcher sends them at once. */
  appended: () => void;
  /** Notes in the upload's record that it was created with webhooks on, then which final event is in the outbox. */
  markAnnounced: (id: string, event: AnnouncedEvent) => Promise<void>;
}>;

export type WebhookOutbox = Readonly<{
  consume: UploadEventConsumer;
  /**
   * Puts in the outbox the final status of an upload that should have been
   * announced and was not: the change of status and its append are two writes
   * (two scripts), and a crash, or a failed append, can
   * come between them. The sweeper calls this for every record now and then.
   */
  revisit: (record: UploadRecord, now: number) => Promise<void>;
}>;

type AnnouncedEvent = 'created' | 'completed' | 'failed';

const THROTTLE_ENTRIES = 10_000;
/** A final status younger than this may still be on its way to the outbox: not revisited yet. */
const ANNOUNCE_GRACE_MS = 60_000;

/**
 * Turns upload events into webhook deliveries in the Redis outbox. The
 * returned consumer's promise settles once the deliveries are appended: the
 * store awaits it, so a request is answered only after the events it caused
 * are durable, and a crash after that loses none of them. Progress is the
 * exception: throttled per upload and not awaited (a later one supersedes it).
 */
export function webhookOutbox(deps: OutboxDeps): WebhookOutbox {
  const { config } = deps;
  const wanted = new Set<WebhookEventType>(config.events);
  const lastProgress = new Map<string, number>();

  const progressDue = (id: string, now: number): boolean => {
    const last = lastProgress.get(id);
    if (last !== undefined && now - last < config.progressIntervalMs) return false;
    lastProgress.delete(id);
    if (lastProgress.size >= THROTTLE_ENTRIES) lastProgress.delete(lastProgress.keys().next().value as string);
    lastProgress.set(id, now);
    return true;
  };

  const consume: UploadEventConsumer = (event) => {
    const type = webhookType(event);
    if (!type || !('id' in event) || config.urls.length === 0) return;
    if (type === 'upload.progress') {
      if (!wanted.has(type) || !progressDue(event.id, Date.now())) return;
      void append(deps, type, event).catch((error) =>
        deps.logger.warn({ err: error, uploadId: event.id }, 'could not queue a progress webhook'),
      );
      return;
    }
    lastProgress.delete(event.id);
    // Marked first, wanted or not, so that revisit knows the upload was created with webhooks on
    // even if every append of it fails (and leaves alone those created before).
    const marked = event.type === 'created' ? deps.markAnnounced(event.id, 'created') : Promise.resolve();
    return marked
      .then(() => (wanted.has(type) ? append(deps, type, event) : undefined))
      .catch((error) => {
        const repaired = event.type === 'completed' || event.type === 'failed';
        deps.logger.error(
          { err: error, uploadId: event.id, event: type },
          repaired
            ? 'could not queue a webhook; the sweeper will queue it later'
            : 'could not queue a webhook: it is lost',
        );
      });
  };

  const revisit = async (record: UploadRecord, now: number) => {
    const status = record.status;
    if (config.urls.length === 0 || (status !== 'completed' && status !== 'failed')) return;
    // Unmarked: created before webhooks were on (announcing it now would be news of old uploads).
    if (record.announced === undefined || record.announced === status) return;
    if (now - (record.completedAt ?? record.updatedAt) < ANNOUNCE_GRACE_MS) return;
    if (!wanted.has(`upload.${status}`)) return;
    const event: UploadEvent & { id: string } =
      status === 'completed'
        ? { type: 'completed', id: record.id }
        : { type: 'failed', id: record.id, reason: record.error ?? 'unknown' };
    deps.logger.warn({ uploadId: record.id, event: status }, 'queueing a webhook that was not queued when it happened');
    await append(deps, `upload.${status}`, event);
  };
  return { consume, revisit };
}

async function append(deps: OutboxDeps, type: WebhookEventType, event: UploadEvent & { id: string }) {
  const { redis, keys, reader, storagePath, config, tusPath } = deps;
  const gone = event.type === 'terminated' || event.type === 'expired';
  const record = gone ? event.record : await reader.readRecord(event.id);
  const key = idempotencyKey(type, event.id, record);
  const payload: WebhookPayload = {
    id: key,
    type,
    occurredAt: new Date().toISOString(),
    upload: webhookUpload(event.id, record, {
      path: `${tusPath}/${event.id}`,
      storagePath: gone ? undefined : storagePath(event.id),
    }),
  };
  if (event.type === 'failed') payload.reason = event.reason;
  if (event.type === 'expired') payload.bytesRemoved = event.bytes;
  // In the outbox of the upload's bucket: on a cluster, the outboxes are spread like the uploads.
  const w = keys.webhooksOf(event.id);
  const queues = config.urls.map((url) => w.queue(url));
  await redis.enqueueWebhooks(
    2 + queues.length,
    w.outbox,
    w.queues,
    ...queues,
    Date.now(),
    type,
    key,
    JSON.stringify(payload),
    ...config.urls,
  );
  deps.appended();
  // Written second: a crash in between repeats the event (same key), never loses it.
  if (event.type === 'completed' || event.type === 'failed') await deps.markAnnounced(event.id, event.type);
}
