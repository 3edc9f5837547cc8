import { z } from 'zod';
import { CHUNK_SIZE_BOUNDS } from '../uploads/model/chunk-grid.js';
import {
  bytes,
  directory,
  flag,
  httpUrl,
  integer,
  list,
  milliseconds,
  oneOf,
  optional,
  publicKeyPem,
  required,
  seconds,
  text,
} from './setting-types.js';

export const WEBHOOK_EVENT_TYPES = [
  'upload.created',
  'upload.progress',
  'upload.completed',
  'upload.failed',
  'upload.terminated',
  'upload.expired',
] as const;

export const JWT_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'ES256',
  'ES384',
  'EdDSA',
] as const;

const DAY_SECONDS = 86_400;

/**
 * Every setting, once: grouped as the configuration is, each by the
 * environment variable that sets it. The description is the one documentation
 * of a variable (docs/configuration.md is generated from it). Durations are
 * milliseconds inside, whatever unit the variable's name carries.
 */
export const SETTINGS = {
  server: {
    port: required('PORT', integer(0, 65535), '1080', 'TCP port the HTTP server listens on'),
    host: required('HOST', text(), '0.0.0.0', 'Interface the HTTP server binds to'),
    tusPath: required(
      'TUS_PATH',
      text(
        z
          .string()
          .trim()
          .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, 'must be a path like /files'),
        'URL path',
      ),
      '/files',
      'URL path the tus endpoint is mounted at',
    ),
    corsOrigins: required(
      'CORS_ORIGINS',
      list(z.url({ protocol: /^https?$/ }).or(z.literal('*'))),
      '',
      'Comma-separated origins allowed by CORS (empty: any origin)',
    ),
    trustProxy: required(
      'TRUST_PROXY',
      flag,
      'false',
      'Build Location from Forwarded / X-Forwarded-Host / X-Forwarded-Proto (set only behind a proxy)',
    ),
    relativeLocation: required(
      'RELATIVE_LOCATION',
      flag,
      'false',
      'Answer POST with a relative Location (such as /files/ID) instead of an absolute URL',
    ),
    idleTimeoutMs: required(
      'IDLE_TIMEOUT_SECONDS',
      seconds(1, 3600),
      '60',
      'A request body that sends nothing for this long is cut off (the bytes received are kept)',
    ),
    shutdownTimeoutMs: required(
      'SHUTDOWN_TIMEOUT_SECONDS',
      seconds(1, 3600),
      '15',
      'On SIGTERM/SIGINT, in-flight requests get this long to finish and record their bytes before exit',
    ),
    logLevel: required(
      'LOG_LEVEL',
      oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
      'info',
      'pino log level',
    ),
  },
  redis: {
    url: optional(
      'REDIS_URL',
      text(
        z
          .string()
          .trim()
          .refine(
            (v) => /^rediss?(\+cluster)?:\/\/.+/.test(v),
            'must be a redis://, rediss:// or redis+cluster://host:port,host:port URL',
          ),
        'URL',
      ),
      'Redis to keep upload state in (redis+cluster://host:port,host:port for a Redis Cluster). Unset: use 127.0.0.1:6379 if it answers, else start a local redis-server',
    ),
    keyPrefix: required(
      'REDIS_KEY_PREFIX',
      text(z.string().regex(/^[^{}\s]*$/, 'must not contain braces or spaces (they would break the {id} hash tag)')),
      '',
      'Prefix of every Redis key this server writes',
    ),
    commandTimeoutMs: required(
      'REDIS_COMMAND_TIMEOUT_MS',
      milliseconds(50, 60_000),
      '2000',
      'A Redis command unanswered after this long fails the request with 503',
    ),
  },
  storage: {
    uploadDir: required('UPLOAD_DIR', directory, './uploads', 'Directory the uploaded bytes are stored in'),
  },
  uploads: {
    ttlMs: required(
      'UPLOAD_TTL_SECONDS',
      seconds(1, 365 * DAY_SECONDS),
      String(DAY_SECONDS),
      'An unfinished upload expires this long after its creation (keys and bytes are removed)',
    ),
    completedRetentionMs: required(
      'COMPLETED_RETENTION_SECONDS',
      seconds(1, 10 * 365 * DAY_SECONDS),
      String(7 * DAY_SECONDS),
      'A completed upload (keys and bytes) is kept this long after it completed',
    ),
    chunkSizeBytes: required(
      'CHUNK_SIZE_BYTES',
      bytes(CHUNK_SIZE_BOUNDS.minBytes, CHUNK_SIZE_BOUNDS.maxBytes),
      String(5 * 1024 * 1024),
      'Size of one chunk of the progress grid (a client may ask for its own with metadata chunkSize)',
    ),
    maxSizeBytes: required(
      'MAX_SIZE_BYTES',
      bytes(0, Number.MAX_SAFE_INTEGER),
      '0',
      'Largest upload accepted, in bytes (0: no limit)',
    ),
    digest: required(
      'UPLOAD_DIGEST',
      oneOf(['sha256', 'none']),
      'sha256',
      'Digest recorded when an upload completes (sha256: computed as the bytes arrive; none: skip it)',
    ),
    progressIntervalMs: required(
      'PROGRESS_INTERVAL_MS',
      milliseconds(0, 60_000),
      '250',
      'While a body streams, its progress is written to Redis at most this often (and always at its end)',
    ),
    removePartialsAfterConcat: required(
      'REMOVE_PARTIALS_AFTER_CONCAT',
      flag,
      'true',
      'Remove partial uploads (Upload-Concat: partial) once a final upload made of them is assembled',
    ),
  },
  locks: {
    ttlMs: required(
      'LOCK_TTL_MS',
      milliseconds(300, 600_000),
      '15000',
      'Expiry of an upload lock in Redis; its holder renews it every fifth of this, and stops writing a fifth before it could expire',
    ),
    acquireTimeoutMs: required(
      'LOCK_ACQUIRE_TIMEOUT_MS',
      milliseconds(0, 600_000),
      '10000',
      'A request waiting longer than this for an upload held by another request gets 423 (retry later)',
    ),
  },
  sweeper: {
    intervalMs: required(
      'SWEEP_INTERVAL_SECONDS',
      seconds(1, DAY_SECONDS),
      '60',
      'How often expired uploads are looked for and removed (one instance at a time)',
    ),
    orphanIntervalMs: required(
      'ORPHAN_SWEEP_INTERVAL_SECONDS',
      seconds(1, 7 * DAY_SECONDS),
      '3600',
      'How often files without a record, and records without a file, are looked for and removed',
    ),
  },
  dashboard: {
    token: optional(
      'DASHBOARD_TOKEN',
      text(z.string().min(16, 'must be at least 16 characters (a long random secret)')),
      'Secret that opens the uploads list and the all-uploads event stream (unset: both are off)',
    ),
  },
  auth: {
    jwtSecret: optional(
      'AUTH_JWT_SECRET',
      text(z.string().min(32, 'must be at least 32 characters (HS256 needs a 256-bit secret)')),
      "Secret of the HS256 bearer tokens (JWT) every upload request must carry; the token's sub is the owner (unset, with no public key: no tokens)",
    ),
    jwtPublicKey: optional(
      'AUTH_JWT_PUBLIC_KEY',
      publicKeyPem,
      'PEM public key (SPKI; \\n for newlines) of the bearer tokens, signed with AUTH_JWT_ALGORITHM',
    ),
    jwtAlgorithm: optional(
      'AUTH_JWT_ALGORITHM',
      oneOf(JWT_ALGORITHMS),
      'Signature algorithm of the bearer tokens (default: HS256 with a secret; with a public key, the one its type fits: RS256, ES256, ES384 or EdDSA)',
    ),
    jwtIssuer: optional('AUTH_JWT_ISSUER', text(), 'Tokens must carry this iss (unset: not checked)'),
    jwtAudience: optional('AUTH_JWT_AUDIENCE', text(), 'Tokens must carry this aud (unset: not checked)'),
    preRequestHookUrl: optional(
      'PRE_REQUEST_HOOK_URL',
      httpUrl,
      'Asked (POST, JSON) before every request that touches an upload: 2xx with {"owner"} allows it, any other status refuses it with that status',
    ),
  },
  hooks: {
    preCreateUrl: optional(
      'PRE_CREATE_HOOK_URL',
      httpUrl,
      'Asked (POST, JSON) before an upload is created: 2xx allows it (and may change its metadata), any other status refuses it',
    ),
    timeoutMs: required(
      'HOOK_TIMEOUT_MS',
      milliseconds(100, 60_000),
      '5000',
      'A pre-request or pre-create hook not answering within this long fails the request with 503',
    ),
  },
  limits: {
    maxSizeBytes: required(
      'OWNER_MAX_SIZE_BYTES',
      bytes(0, Number.MAX_SAFE_INTEGER),
      '0',
      'Largest upload one owner may create, in bytes (0: no limit; a token claim upload_max_size overrides it)',
    ),
    maxConcurrentUploads: required(
      'OWNER_MAX_CONCURRENT_UPLOADS',
      integer(0, 100_000),
      '0',
      'Unfinished uploads one owner may have at once (0: no limit; a token claim upload_max_concurrent overrides it)',
    ),
  },
  webhooks: {
    urls: required(
      'WEBHOOK_URLS',
      list(z.url({ protocol: /^https?$/ })),
      '',
      'Comma-separated URLs every upload event is POSTed to, from a durable outbox in Redis (empty: no webhooks)',
    ),
    secret: optional(
      'WEBHOOK_SECRET',
      text(z.string().min(16, 'must be at least 16 characters (a long random secret)')),
      'Key of the Webhook-Signature HMAC-SHA256 header (unset: deliveries are not signed)',
    ),
    events: required(
      'WEBHOOK_EVENTS',
      list(z.enum(WEBHOOK_EVENT_TYPES)),
      WEBHOOK_EVENT_TYPES.join(','),
      'Comma-separated events to deliver',
    ),
    progressIntervalMs: required(
      'WEBHOOK_PROGRESS_INTERVAL_SECONDS',
      seconds(1, 3600),
      '10',
      'upload.progress is sent at most this often per upload',
    ),
    timeoutMs: required(
      'WEBHOOK_TIMEOUT_MS',
      milliseconds(100, 120_000),
      '10000',
      'A delivery not answered within this long counts as failed and is retried',
    ),
    retryBaseMs: required(
      'WEBHOOK_RETRY_BASE_MS',
      milliseconds(10, 3_600_000),
      '1000',
      'Wait before the first retry of a failed delivery; it doubles with each attempt',
    ),
    retryMaxMs: required(
      'WEBHOOK_RETRY_MAX_MS',
      milliseconds(10, 86_400_000),
      '300000',
      'Longest wait between two attempts of a delivery (never less than WEBHOOK_RETRY_BASE_MS)',
    ),
    maxAttempts: required(
      'WEBHOOK_MAX_ATTEMPTS',
      integer(1, 1000),
      '30',
      'Attempts before a delivery is moved to the dead-letter stream (30: about two hours with the defaults)',
    ),
  },
} as const;
