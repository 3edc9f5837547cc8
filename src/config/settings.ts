import { z } from 'zod';
import { CHUNK_SIZE_BOUNDS } from '../uploads/model/chunk-grid.js';
import { INTEGRATION_SETTINGS } from './integration-settings.js';
import { REDIS_SETTINGS } from './redis-settings.js';
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
  required,
  seconds,
  secret,
  text,
} from './setting-types.js';

export { JWT_ALGORITHMS, WEBHOOK_EVENT_TYPES } from './integration-settings.js';

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
      'Behind one reverse proxy: build Location from Forwarded / X-Forwarded-Host / X-Forwarded-Proto, and take the client address from the last X-Forwarded-For hop (set only behind a proxy)',
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
  redis: REDIS_SETTINGS,
  storage: {
    kind: required(
      'STORAGE',
      oneOf(['file', 's3', 'azure']),
      'file',
      "Where uploaded bytes are kept: file (UPLOAD_DIR, shared by every instance), s3 (S3_BUCKET) or azure (AZURE_CONTAINER); with s3 and azure each instance's UPLOAD_DIR holds temporary data only",
    ),
    uploadDir: required(
      'UPLOAD_DIR',
      directory,
      './uploads',
      'Directory the uploaded bytes are stored in (with STORAGE=s3 or azure: chunked bodies are spooled here, one part at a time)',
    ),
    s3Bucket: optional(
      'S3_BUCKET',
      text(),
      'Bucket of the uploads with STORAGE=s3 (required then; never created by the server)',
    ),
    s3Endpoint: optional(
      'S3_ENDPOINT',
      httpUrl,
      "An S3-compatible server's URL, such as http://127.0.0.1:8080 (unset: AWS S3)",
    ),
    s3Region: required('S3_REGION', text(), 'us-east-1', 'Region of the bucket'),
    s3ForcePathStyle: required(
      'S3_FORCE_PATH_STYLE',
      flag,
      'false',
      'Address the bucket in the path (http://host/bucket/key), as most S3-compatible servers need',
    ),
    s3KeyPrefix: required(
      'S3_KEY_PREFIX',
      text(z.string().regex(/^[A-Za-z0-9!_.*'()/-]*$/, "must use S3's safe characters: letters, digits and !_.*'()/-")),
      '',
      'Prefix of every object key this server writes (an upload is the object <prefix><id>)',
    ),
    s3RequestTimeoutMs: required(
      'S3_REQUEST_TIMEOUT_MS',
      milliseconds(100, 600_000),
      '30000',
      "Bounds a whole S3 call, the SDK's retries included (a streamed part: each wait on S3); slower, and the client gets 503",
    ),
    azureContainer: optional(
      'AZURE_CONTAINER',
      text(
        z
          .string()
          .regex(
            /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/,
            'must be an Azure container name: 3 to 63 lowercase letters, digits and single hyphens',
          ),
      ),
      'Container of the uploads with STORAGE=azure (required then; never created by the server)',
    ),
    azureAccount: optional(
      'AZURE_STORAGE_ACCOUNT',
      text(
        z.string().regex(/^[a-z0-9]{3,24}$/, 'must be a storage account name: 3 to 24 lowercase letters and digits'),
      ),
      'Storage account of the container with STORAGE=azure (with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN)',
    ),
    azureKey: secret(
      optional(
        'AZURE_STORAGE_KEY',
        text(
          z
            .string()
            .trim()
            .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be an account key as Azure shows it (base64)'),
        ),
        "The storage account's access key (secret; never logged)",
      ),
    ),
    azureSasToken: secret(
      optional(
        'AZURE_STORAGE_SAS_TOKEN',
        text(),
        'A SAS token for the container instead of the key (secret; permissions read, add, create, write, delete, list)',
      ),
    ),
    azureConnectionString: secret(
      optional(
        'AZURE_STORAGE_CONNECTION_STRING',
        text(),
        'A connection string (AccountName and AccountKey or SharedAccessSignature, and optionally BlobEndpoint) instead of the three above (secret)',
      ),
    ),
    azureEndpoint: optional(
      'AZURE_BLOB_ENDPOINT',
      httpUrl,
      "The Blob service's URL, for Azurite (http://127.0.0.1:10000/devstoreaccount1) or a sovereign cloud (unset: https://<account>.blob.core.windows.net)",
    ),
    azureBlobPrefix: required(
      'AZURE_BLOB_PREFIX',
      text(
        z
          .string()
          .regex(/^[A-Za-z0-9!_.*'()/-]*$/, "must use letters, digits and !_.*'()/- (safe in a blob's URL unencoded)"),
      ),
      '',
      'Prefix of every blob name this server writes (an upload is the blob <prefix><id>)',
    ),
    azureRequestTimeoutMs: required(
      'AZURE_REQUEST_TIMEOUT_MS',
      milliseconds(100, 600_000),
      '30000',
      "Bounds a whole Azure Storage call, the SDK's retries included (a streamed block: each wait on Azure); slower, and the client gets 503",
    ),
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
    instanceTtlMs: required(
      'INSTANCE_TTL_MS',
      milliseconds(500, 60_000),
      '1500',
      'An instance refreshes its liveness key every fifth of this; one that misses it this long is taken for dead and its uploads are taken over at once (it stops writing a fifth before)',
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
  ...INTEGRATION_SETTINGS,
} as const;
