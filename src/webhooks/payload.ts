import { WEBHOOK_EVENT_TYPES } from '../config/settings.js';
import type { UploadEvent } from '../uploads/events/upload-events.js';
import type { UploadRecord } from '../uploads/model/upload-record.js';

export { WEBHOOK_EVENT_TYPES };

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The upload as a webhook receiver sees it. */
export type WebhookUpload = {
  id: string;
  /** The upload's URL path on this server (its tus URL without scheme and host). */
  path: string;
  status: string | null;
  size: number | null;
  offset: number | null;
  metadata: Record<string, string | null>;
  owner: string | null;
  sha256: string | null;
  /** Where the bytes are: a file path on this server, or `s3://<bucket>/<key>` (upload.completed: the finished file). */
  storagePath: string | null;
  createdAt: string | null;
  completedAt: string | null;
  chunks: { total: number | null; received: number; failed: number } | null;
  /**
   * tus concatenation: `partial` for a part of a file uploaded in parallel (not
   * a file of its own: its final upload is), `final` for the file made of
   * parts, null for an ordinary upload.
   */
  concat: 'partial' | 'final' | null;
  /** A final upload's parts, in order. */
  partials: readonly string[] | null;
};

/**
 * One delivery's body. `id` is the idempotency key (also sent as the
 * Idempotency-Key and Webhook-Id headers): the same for every attempt of one
 * event, so a receiver that has seen it can acknowledge and skip it.
 */
export type WebhookPayload = {
  id: string;
  type: WebhookEventType;
  occurredAt: string;
  upload: WebhookUpload;
  /** upload.failed: why. */
  reason?: string;
  /** upload.expired: bytes removed from disk. */
  bytesRemoved?: number;
};

/** The webhook type of an upload event, or undefined for events that are not sent. */
export function webhookType(event: UploadEvent): WebhookEventType | undefined {
  switch (event.type) {
    case 'created':
    case 'progress':
    case 'completed':
    case 'failed':
    case 'terminated':
    case 'expired':
      return `upload.${event.type}`;
    default:
      return undefined;
  }
}

/**
 * The idempotency key of an event. Each upload is created, completed, failed,
 * terminated or expired at most once, so those keys name the upload and the
 * event; progress is keyed by the offset it reports.
 */
export function idempotencyKey(type: WebhookEventType, uploadId: string, record: UploadRecord | undefined): string {
  return type === 'upload.progress' ? `${uploadId}.progress.${record?.offset ?? 0}` : `${uploadId}.${type.slice(7)}`;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function webhookUpload(
  id: string,
  record: UploadRecord | undefined,
  where: { path: string; storagePath: string | undefined },
): WebhookUpload {
  return {
    id,
    path: where.path,
    status: record?.status ?? null,
    size: record?.size ?? null,
    offset: record?.offset ?? null,
    metadata: record?.metadata ?? {},
    owner: record?.owner ?? null,
    sha256: record?.sha256 ?? null,
    storagePath: where.storagePath ?? null,
    createdAt: iso(record?.createdAt),
    completedAt: iso(record?.completedAt),
    chunks: record
      ? { total: record.totalChunks ?? null, received: record.receivedChunks, failed: record.failedChunks }
      : null,
    concat: record?.uploadConcat === 'partial' ? 'partial' : record?.uploadConcat ? 'final' : null,
    partials: record?.partials ?? null,
  };
}
