import dc from 'node:diagnostics_channel';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { UploadEvent } from './uploads/events/upload-events.js';

/**
 * Prometheus metrics (prom-client), in a registry of their own. Names follow
 * Prometheus conventions (`_total`, `_seconds`, `_bytes`); labels have few
 * values (method, status code, command name, event type), never upload IDs.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    requests: new Counter({
      name: 'tus_http_requests_total',
      help: 'HTTP requests, by method and status code; status "aborted": the response never finished (the client went away)',
      labelNames: ['method', 'status'] as const,
      registers: [registry],
    }),
    receivedBytes: new Counter({
      name: 'tus_received_bytes_total',
      help: 'Upload bytes stored (PATCH and POST bodies)',
      registers: [registry],
    }),
    uploads: new Counter({
      name: 'tus_uploads_total',
      help: 'Uploads by what happened to them: created, completed, failed, terminated, expired',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    activeUploads: new Gauge({
      name: 'tus_uploads_active',
      help: 'Uploads receiving bytes on this instance right now',
      registers: [registry],
    }),
    patchDuration: new Histogram({
      name: 'tus_patch_duration_seconds',
      help: 'Duration of PATCH requests',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
      registers: [registry],
    }),
    lockWait: new Histogram({
      name: 'tus_lock_wait_seconds',
      help: 'Time spent waiting for an upload lock',
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 1, 3, 10],
      registers: [registry],
    }),
    lockTakeovers: new Counter({
      name: 'tus_lock_takeovers_total',
      help: 'Locks taken over from an instance taken for dead (killed, or paused past INSTANCE_TTL_MS)',
      registers: [registry],
    }),
    lockContention: new Counter({
      name: 'tus_lock_contention_total',
      help: 'Lock acquisitions that found the upload locked by another request',
      registers: [registry],
    }),
    redisDuration: new Histogram({
      name: 'tus_redis_command_duration_seconds',
      help: 'Redis command latency as seen by this server',
      labelNames: ['command'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 2.5],
      registers: [registry],
    }),
    redisErrors: new Counter({
      name: 'tus_redis_errors_total',
      help: 'Redis commands that failed (timeouts, connection errors, error replies)',
      labelNames: ['command'] as const,
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'tus_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, failed (to be retried), dead (given up)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    storageBytes: new Counter({
      name: 'tus_storage_bytes_total',
      help: 'Bytes this server sent to its object storage (sent) and read back from it (read); copies inside S3 are neither',
      labelNames: ['direction'] as const,
      registers: [registry],
    }),
    sweeps: new Counter({
      name: 'tus_sweeper_runs_total',
      help: 'Sweeps this instance ran (it runs when no other instance does)',
      registers: [registry],
    }),
    reclaimedBytes: new Counter({
      name: 'tus_sweeper_reclaimed_bytes_total',
      help: 'Bytes of expired uploads the sweeper removed',
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Counts upload events. */
export function countUploadEvents(metrics: Metrics): (event: UploadEvent) => void {
  return (event) => {
    switch (event.type) {
      case 'received':
        metrics.receivedBytes.inc(event.bytes);
        return;
      case 'swept':
        if (event.ran) metrics.sweeps.inc();
        return;
      case 'progress':
        return;
      case 'expired':
        metrics.reclaimedBytes.inc(event.bytes);
        metrics.uploads.inc({ event: event.type });
        return;
      default:
        metrics.uploads.inc({ event: event.type });
    }
  };
}

type CommandContext = { command?: string; error?: unknown };

/**
 * Times every ioredis command of this process (its diagnostics_channel
 * tracing, ioredis >= 5.9). Returns the function that stops it.
 */
export function observeRedisCommands(metrics: Metrics): () => void {
  const started = new WeakMap<object, bigint>();
  const onStart = (context: unknown) => started.set(context as object, process.hrtime.bigint());
  const onEnd = (context: unknown) => {
    const begun = started.get(context as object);
    if (begun === undefined) return;
    const command = (context as CommandContext).command ?? 'unknown';
    metrics.redisDuration.observe({ command }, Number(process.hrtime.bigint() - begun) / 1e9);
  };
  const onError = (context: unknown) =>
    metrics.redisErrors.inc({ command: (context as CommandContext).command ?? 'unknown' });
  const channels = [
    ['tracing:ioredis:command:start', onStart],
    ['tracing:ioredis:command:asyncEnd', onEnd],
    ['tracing:ioredis:command:error', onError],
  ] as const;
  for (const [name, handler] of channels) dc.subscribe(name, handler);
  return () => {
    for (const [name, handler] of channels) dc.unsubscribe(name, handler);
  };
}
