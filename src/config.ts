import path from 'node:path';
import { z } from 'zod';

/** Smallest and largest chunk size a client may ask for (Upload-Metadata `chunkSize`). */
export const CHUNK_SIZE_BOUNDS = { minBytes: 64 * 1024, maxBytes: 1024 * 1024 * 1024 } as const;

const wholeNumber = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

const flag = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const redisUrl = z
  .string()
  .trim()
  .refine(
    (v) => /^rediss?(\+cluster)?:\/\/.+/.test(v),
    'must be a redis://, rediss:// or redis+cluster://host:port,host:port URL',
  );

/**
 * Every setting, by the environment variable that sets it. The description is
 * the one documentation of a variable (the README's table is generated from it).
 */
export const envSchema = z.object({
  PORT: wholeNumber(0, 65535).default(1080).describe('TCP port the HTTP server listens on'),
  HOST: z.string().trim().min(1).default('0.0.0.0').describe('Interface the HTTP server binds to'),
  REDIS_URL: redisUrl
    .optional()
    .describe(
      'Redis to keep upload state in (redis+cluster://host:port,host:port for a Redis Cluster). Unset: use 127.0.0.1:6379 if it answers, else start a local redis-server',
    ),
  DASHBOARD_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters (a long random secret)')
    .optional()
    .describe('Secret that opens the uploads list and the all-uploads event stream (unset: both are off)'),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[^{}\s]*$/, 'must not contain braces or spaces (they would break the {id} hash tag)')
    .default('')
    .describe('Prefix of every Redis key this server writes'),
  REDIS_COMMAND_TIMEOUT_MS: wholeNumber(50, 60_000)
    .default(2000)
    .describe('A Redis command unanswered after this long fails the request with 503'),
  UPLOAD_DIR: z.string().trim().min(1).default('./uploads').describe('Directory the uploaded bytes are stored in'),
  TUS_PATH: z
    .string()
    .trim()
    .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, 'must be a path like /files')
    .default('/files')
    .describe('URL path the tus endpoint is mounted at'),
  UPLOAD_TTL_SECONDS: wholeNumber(1, 365 * 86400)
    .default(86400)
    .describe('An unfinished upload expires this long after its creation (keys and bytes are removed)'),
  COMPLETED_RETENTION_SECONDS: wholeNumber(1, 10 * 365 * 86400)
    .default(7 * 86400)
    .describe('A completed upload (keys and bytes) is kept this long after it completed'),
  CHUNK_SIZE_BYTES: wholeNumber(CHUNK_SIZE_BOUNDS.minBytes, CHUNK_SIZE_BOUNDS.maxBytes)
    .default(5 * 1024 * 1024)
    .describe('Size of one chunk of the progress grid (a client may ask for its own with metadata chunkSize)'),
  MAX_SIZE_BYTES: wholeNumber(0, Number.MAX_SAFE_INTEGER)
    .default(0)
    .describe('Largest upload accepted, in bytes (0: no limit)'),
  CORS_ORIGINS: z
    .string()
    .trim()
    .transform((v) => v.split(',').map((o) => o.trim()))
    .pipe(z.array(z.url({ protocol: /^https?$/ }).or(z.literal('*'))))
    .default([])
    .describe('Comma-separated origins allowed by CORS (empty: any origin)'),
  TRUST_PROXY: flag
    .default(false)
    .describe('Build Location from Forwarded / X-Forwarded-Host / X-Forwarded-Proto (set only behind a proxy)'),
  RELATIVE_LOCATION: flag
    .default(false)
    .describe('Answer POST with a relative Location (such as /files/ID) instead of an absolute URL'),
  UPLOAD_DIGEST: z
    .enum(['sha256', 'none'])
    .default('sha256')
    .describe('Digest recorded when an upload completes (sha256: computed as the bytes arrive; none: skip it)'),
  PROGRESS_INTERVAL_MS: wholeNumber(0, 60_000)
    .default(250)
    .describe('While a body streams, its progress is written to Redis at most this often (and always at its end)'),
  REMOVE_PARTIALS_AFTER_CONCAT: flag
    .default(true)
    .describe('Remove partial uploads (Upload-Concat: partial) once a final upload made of them is assembled'),
  IDLE_TIMEOUT_SECONDS: wholeNumber(1, 3600)
    .default(60)
    .describe('A request body that sends nothing for this long is cut off (the bytes received are kept)'),
  LOCK_TTL_MS: wholeNumber(300, 600_000)
    .default(15_000)
    .describe(
      'Expiry of an upload lock in Redis; its holder renews it every fifth of this, and stops writing a fifth before it could expire',
    ),
  LOCK_ACQUIRE_TIMEOUT_MS: wholeNumber(0, 600_000)
    .default(10_000)
    .describe('A request waiting longer than this for an upload held by another request gets 423 (retry later)'),
  SHUTDOWN_TIMEOUT_SECONDS: wholeNumber(1, 3600)
    .default(15)
    .describe('On SIGTERM/SIGINT, in-flight requests get this long to finish and record their bytes before exit'),
  SWEEP_INTERVAL_SECONDS: wholeNumber(1, 86400)
    .default(60)
    .describe('How often expired uploads are looked for and removed (one instance at a time)'),
  ORPHAN_SWEEP_INTERVAL_SECONDS: wholeNumber(1, 7 * 86400)
    .default(3600)
    .describe('How often files without a record, and records without a file, are looked for and removed'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level'),
});

export type Config = Readonly<{
  port: number;
  host: string;
  redisUrl: string | undefined;
  dashboardToken: string | undefined;
  redisKeyPrefix: string;
  redisCommandTimeoutMs: number;
  uploadDir: string;
  tusPath: string;
  uploadTtlSeconds: number;
  completedRetentionSeconds: number;
  chunkSizeBytes: number;
  maxSizeBytes: number;
  corsOrigins: readonly string[];
  trustProxy: boolean;
  relativeLocation: boolean;
  uploadDigest: 'sha256' | 'none';
  progressIntervalMs: number;
  removePartialsAfterConcat: boolean;
  idleTimeoutSeconds: number;
  lockTtlMs: number;
  lockAcquireTimeoutMs: number;
  shutdownTimeoutSeconds: number;
  sweepIntervalSeconds: number;
  orphanSweepIntervalSeconds: number;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}>;

/** CORS_ORIGINS empty or containing `*`. */
export const allowsAnyOrigin = (config: Pick<Config, 'corsOrigins'>): boolean =>
  config.corsOrigins.length === 0 || config.corsOrigins.includes('*');

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from environment variables; throws one ConfigError listing every bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(envSchema.shape)
      .filter((name) => env[name] !== undefined && env[name] !== '')
      .map((name) => [name, env[name]]),
  );
  const parsed = envSchema.safeParse(known);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0]);
        return `${name}: ${issue.message} (got ${JSON.stringify(env[name])})`;
      }),
    );
  }
  const e = parsed.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    dashboardToken: e.DASHBOARD_TOKEN,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    uploadDir: path.resolve(e.UPLOAD_DIR),
    tusPath: e.TUS_PATH,
    uploadTtlSeconds: e.UPLOAD_TTL_SECONDS,
    completedRetentionSeconds: e.COMPLETED_RETENTION_SECONDS,
    chunkSizeBytes: e.CHUNK_SIZE_BYTES,
    maxSizeBytes: e.MAX_SIZE_BYTES,
    corsOrigins: Object.freeze(e.CORS_ORIGINS),
    trustProxy: e.TRUST_PROXY,
    relativeLocation: e.RELATIVE_LOCATION,
    uploadDigest: e.UPLOAD_DIGEST,
    progressIntervalMs: e.PROGRESS_INTERVAL_MS,
    removePartialsAfterConcat: e.REMOVE_PARTIALS_AFTER_CONCAT,
    idleTimeoutSeconds: e.IDLE_TIMEOUT_SECONDS,
    lockTtlMs: e.LOCK_TTL_MS,
    lockAcquireTimeoutMs: e.LOCK_ACQUIRE_TIMEOUT_MS,
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    sweepIntervalSeconds: e.SWEEP_INTERVAL_SECONDS,
    orphanSweepIntervalSeconds: e.ORPHAN_SWEEP_INTERVAL_SECONDS,
    logLevel: e.LOG_LEVEL,
  });
}

/** What kind of value a variable takes, from its schema and the unit its name carries. */
function typeOf(name: string, field: z.ZodType): string {
  const def = field.def as { defaultValue?: unknown; innerType?: z.ZodType };
  const inner = def.innerType?.def as { type?: string; entries?: Record<string, string> } | undefined;
  if (inner?.type === 'enum' && inner.entries) return `one of ${Object.keys(inner.entries).join(', ')}`;
  const value = def.defaultValue;
  if (typeof value === 'boolean') return 'boolean';
  if (Array.isArray(value)) return 'comma-separated list';
  if (typeof value === 'number') {
    const unit = /_(SECONDS|MS|BYTES)$/.exec(name)?.[1]?.toLowerCase();
    return unit ? `integer (${unit === 'ms' ? 'milliseconds' : unit})` : 'integer';
  }
  if (name.endsWith('_URL')) return 'URL';
  if (name.endsWith('_DIR')) return 'directory';
  if (name.endsWith('_PATH')) return 'URL path';
  return 'string';
}

/** The configuration reference (a Markdown table), generated from the schema so the README cannot drift from it. */
export function renderConfigReference(): string {
  const shown = (value: unknown) => {
    if (value === undefined) return '(unset)';
    if (value === '' || (Array.isArray(value) && value.length === 0)) return '(empty)';
    return `\`${String(value)}\``;
  };
  const rows = Object.entries(envSchema.shape).map(([name, field]) => {
    const def = field.def as { defaultValue?: unknown };
    return `| \`${name}\` | ${typeOf(name, field)} | ${shown(def.defaultValue)} | ${field.description} |`;
  });
  return ['| Variable | Type | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
