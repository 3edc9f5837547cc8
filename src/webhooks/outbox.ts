import type { WebhookConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import type { UploadEvent, UploadEventConsumer } from '../uploads/events.js';
import type { UploadReader } from '../uploads/progress.js';
import { idempotencyKey, type WebhookEventType, type WebhookPayload, webhookType, webhookUpload } from './payload.js';

export type OutboxParts = Readonly<{
  redis: RedisClient;
  keys: Keys;
  reader: UploadReader;
  /** Where an upload's bytes are on disk. */
  storagePath: (id: string) => string | undefined;
  config: WebhookConfig;
  tusPath: string;
  logger: Logger;
  /** Called once deliveries are in the outbox, so this instance's dispatcher sends them at once. */
  appended: () => void;
}>;

const THROTTLE_ENTRIES = 10_000;

/**
 * Turns upload events into webhook deliveries in the Redis outbox. The
 * returned consumer's promise settles once the deliveries are appended: the
 * store awaits it, so a request is answered only after the events it caused
 * are durable, and a crash after that loses none of them. Progress is the
 * exception: throttled per upload and not awaited (a later one supersedes it).
 */
export function webhookOutbox(parts: OutboxParts): UploadEventConsumer {
  const { config } = parts;
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

  return (event) => {
    const type = webhookType(event);
    if (!type || !('id' in event) || config.urls.length === 0) return;
    if (type !== 'upload.progress') lastProgress.delete(event.id);
    if (!wanted.has(type)) return;
    if (type === 'upload.progress') {
      if (!progressDue(event.id, Date.now())) return;
      void append(parts, type, event).catch((error) =>
        parts.logger.warn({ err: error, uploadId: event.id }, 'could not queue a progress webhook'),
      );
      return;
    }
    return append(parts, type, event).catch((error) => {
      parts.logger.error({ err: error, uploadId: event.id, event: type }, 'could not queue a webhook: it is lost');
    });
  };
}

async function append(parts: OutboxParts, type: WebhookEventType, event: UploadEvent & { id: string }) {
  const { redis, keys, reader, storagePath, config, tusPath } = parts;
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
  const w = keys.webhooks;
  await redis.enqueueWebhooks(w.outbox, w.due, Date.now(), type, key, JSON.stringify(payload), ...config.urls);
  parts.appended();
}
