import { z } from 'zod';
import {
  bytes,
  httpUrl,
  integer,
  list,
  milliseconds,
  oneOf,
  optional,
  publicKeyPem,
  required,
  seconds,
  secret,
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

/**
 * The settings of what this server works with: who may call it, the hooks and
 * webhooks of the application behind it, per-owner limits and the dashboard.
 * Part of SETTINGS (settings.ts), as the groups they are.
 */
export const INTEGRATION_SETTINGS = {
  dashboard: {
    token: optional(
      'DASHBOARD_TOKEN',
      text(z.string().min(16, 'must be at least 16 characters (a long random secret)')),
      'Secret that opens the uploads list and the all-uploads event stream (unset: both are off)',
    ),
    streamsPerClient: required(
      'EVENT_STREAMS_PER_CLIENT',
      integer(1, 10_000),
      '16',
      'Live-update streams (Server-Sent Events) one client address may hold open at once; one more gets 429',
    ),
    streamsPerInstance: required(
      'EVENT_STREAMS_PER_INSTANCE',
      integer(1, 1_000_000),
      '2000',
      'Live-update streams one instance holds open at once, all clients together; one more gets 503 (another instance may take it)',
    ),
  },
  auth: {
    jwtSecret: secret(
      optional(
        'AUTH_JWT_SECRET',
        text(z.string().min(32, 'must be at least 32 characters (HS256 needs a 256-bit secret)')),
        "Secret of the HS256 bearer tokens (JWT) every upload request must carry; the token's sub is the owner (unset, with no public key: no tokens)",
      ),
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
    secret: secret(
      optional(
        'WEBHOOK_SECRET',
        text(z.string().min(16, 'must be at least 16 characters (a long random secret)')),
        'Key of the Webhook-Signature HMAC-SHA256 header (unset: deliveries are not signed)',
      ),
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
