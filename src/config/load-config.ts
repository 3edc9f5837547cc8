import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { CHUNK_SIZE_BOUNDS } from '../uploads/model/chunk-grid.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../webhooks/payload.js';

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

/** A PEM in one environment variable often arrives with its newlines escaped. */
const unescapePem = (pem: string) => pem.replaceAll('\\n', '\n');

function isPublicKeyPem(value: string): boolean {
  try {
    const pem = unescapePem(value);
    // SPKI only: what jose's importSPKI reads (a PKCS#1 "RSA PUBLIC KEY" is not).
    return pem.includes('-----BEGIN PUBLIC KEY-----') && createPublicKey(pem).type === 'public';
  } catch {
    return false;
  }
}

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
  AUTH_JWT_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters (HS256 needs a 256-bit secret)')
    .optional()
    .describe(
      "Secret of the HS256 bearer tokens (JWT) every upload request must carry; the token's sub is the owner (unset, with no public key: no tokens)",
    ),
  AUTH_JWT_PUBLIC_KEY: z
    .string()
    .trim()
    .refine(isPublicKeyPem, 'must be a PEM public key (-----BEGIN PUBLIC KEY-----, \\n for newlines)')
    .optional()
    .describe('PEM public key (SPKI; \\n for newlines) of the bearer tokens, signed with AUTH_JWT_ALGORITHM'),
  AUTH_JWT_ALGORITHM: z
    .enum(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'])
    .optional()
    .describe(
      'Signature algorithm of the bearer tokens (default: HS256 with a secret; with a public key, the one its type fits: RS256, ES256, ES384 or EdDSA)',
    ),
  AUTH_JWT_ISSUER: z.string().trim().min(1).optional().describe('Tokens must carry this iss (unset: not checked)'),
  AUTH_JWT_AUDIENCE: z.string().trim().min(1).optional().describe('Tokens must carry this aud (unset: not checked)'),
  PRE_REQUEST_HOOK_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      'Asked (POST, JSON) before every request that touches an upload: 2xx with {"owner"} allows it, any other status refuses it with that status',
    ),
  PRE_CREATE_HOOK_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      'Asked (POST, JSON) before an upload is created: 2xx allows it (and may change its metadata), any other status refuses it',
    ),
  HOOK_TIMEOUT_MS: wholeNumber(100, 60_000)
    .default(5000)
    .describe('A pre-request or pre-create hook not answering within this long fails the request with 503'),
  OWNER_MAX_SIZE_BYTES: wholeNumber(0, Number.MAX_SAFE_INTEGER)
    .default(0)
    .describe(
      'Largest upload one owner may create, in bytes (0: no limit; a token claim upload_max_size overrides it)',
    ),
  OWNER_MAX_CONCURRENT_UPLOADS: wholeNumber(0, 100_000)
    .default(0)
    .describe(
      'Unfinished uploads one owner may have at once (0: no limit; a token claim upload_max_concurrent overrides it)',
    ),
  WEBHOOK_URLS: z
    .string()
    .trim()
    .transform((v) => v.split(',').map((u) => u.trim()))
    .pipe(z.array(z.url({ protocol: /^https?$/ })))
    .default([])
    .describe(
      'Comma-separated URLs every upload event is POSTed to, from a durable outbox in Redis (empty: no webhooks)',
    ),
  WEBHOOK_SECRET: z
    .string()
    .min(16, 'must be at least 16 characters (a long random secret)')
    .optional()
    .describe('Key of the Webhook-Signature HMAC-SHA256 header (unset: deliveries are not signed)'),
  WEBHOOK_EVENTS: z
    .string()
    .trim()
    .transform((v) => v.split(',').map((e) => e.trim()))
    .pipe(z.array(z.enum(WEBHOOK_EVENT_TYPES)))
    .default([...WEBHOOK_EVENT_TYPES])
    .describe('Comma-separated events to deliver'),
  WEBHOOK_PROGRESS_INTERVAL_SECONDS: wholeNumber(1, 3600)
    .default(10)
    .describe('upload.progress is sent at most this often per upload'),
  WEBHOOK_TIMEOUT_MS: wholeNumber(100, 120_000)
    .default(10_000)
    .describe('A delivery not answered within this long counts as failed and is retried'),
  WEBHOOK_RETRY_BASE_MS: wholeNumber(10, 3_600_000)
    .default(1000)
    .describe('Wait before the first retry of a failed delivery; it doubles with each attempt'),
  WEBHOOK_RETRY_MAX_MS: wholeNumber(10, 86_400_000)
    .default(300_000)
    .describe('Longest wait between two attempts of a delivery'),
  WEBHOOK_MAX_ATTEMPTS: wholeNumber(1, 1000)
    .default(30)
    .describe('Attempts before a delivery is moved to the dead-letter stream (30: about two hours with the defaults)'),
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
  auth: AuthConfig;
  limits: OwnerLimits;
  preCreateHookUrl: string | undefined;
  hookTimeoutMs: number;
  webhooks: WebhookConfig;
}>;

export type AuthConfig = Readonly<{
  jwt:
    | Readonly<{
        key: { secret: string } | { publicKeyPem: string };
        algorithm: string;
        issuer: string | undefined;
        audience: string | undefined;
      }>
    | undefined;
  preRequestHookUrl: string | undefined;
}>;

/** What one owner may do (0: no limit). */
export type OwnerLimits = Readonly<{ maxSizeBytes: number; maxConcurrentUploads: number }>;

export type WebhookConfig = Readonly<{
  urls: readonly string[];
  secret: string | undefined;
  events: readonly WebhookEventType[];
  progressIntervalMs: number;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
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
  const problems = combinationProblems(e);
  if (problems.length > 0) throw new ConfigError(problems);
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
    auth: Object.freeze({ jwt: jwtConfig(e), preRequestHookUrl: e.PRE_REQUEST_HOOK_URL }),
    limits: Object.freeze({
      maxSizeBytes: e.OWNER_MAX_SIZE_BYTES,
      maxConcurrentUploads: e.OWNER_MAX_CONCURRENT_UPLOADS,
    }),
    preCreateHookUrl: e.PRE_CREATE_HOOK_URL,
    hookTimeoutMs: e.HOOK_TIMEOUT_MS,
    webhooks: Object.freeze({
      urls: Object.freeze(e.WEBHOOK_URLS),
      secret: e.WEBHOOK_SECRET,
      events: Object.freeze([...new Set(e.WEBHOOK_EVENTS)]),
      progressIntervalMs: e.WEBHOOK_PROGRESS_INTERVAL_SECONDS * 1000,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: Math.max(e.WEBHOOK_RETRY_MAX_MS, e.WEBHOOK_RETRY_BASE_MS),
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
    }),
  });
}

type Env = z.infer<typeof envSchema>;
type JwtAlgorithm = NonNullable<Env['AUTH_JWT_ALGORITHM']>;

/** Settings that are valid alone but not together, or that would silently do nothing. */
function combinationProblems(e: Env): string[] {
  const problems: string[] = [];
  if (e.AUTH_JWT_SECRET && e.AUTH_JWT_PUBLIC_KEY) {
    problems.push('AUTH_JWT_SECRET and AUTH_JWT_PUBLIC_KEY: set one of them, not both');
  }
  const tokenSettings = (['AUTH_JWT_ALGORITHM', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE'] as const).filter((n) => e[n]);
  if (tokenSettings.length > 0 && !e.AUTH_JWT_SECRET && !e.AUTH_JWT_PUBLIC_KEY) {
    problems.push(
      `${tokenSettings.join(', ')}: no token is checked without AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY; set one`,
    );
  }
  const algorithm = e.AUTH_JWT_ALGORITHM;
  if (e.AUTH_JWT_SECRET && algorithm && !algorithm.startsWith('HS')) {
    problems.push(`AUTH_JWT_ALGORITHM: ${algorithm} does not go with a secret (use HS256, HS384 or HS512)`);
  }
  if (e.AUTH_JWT_PUBLIC_KEY) {
    const fitting = algorithmsOfKey(unescapePem(e.AUTH_JWT_PUBLIC_KEY));
    if (algorithm && !fitting.includes(algorithm)) {
      problems.push(
        `AUTH_JWT_ALGORITHM: ${algorithm} does not go with this public key (it fits ${fitting.join(', ') || 'none of the supported algorithms'})`,
      );
    } else if (fitting.length === 0) {
      problems.push(
        'AUTH_JWT_PUBLIC_KEY: a key of a type no supported algorithm verifies (use RSA, EC P-256 or P-384, or Ed25519)',
      );
    }
  }
  if (e.WEBHOOK_SECRET && e.WEBHOOK_URLS.length === 0) {
    problems.push('WEBHOOK_SECRET: no webhook is sent without WEBHOOK_URLS; set it');
  }
  return problems;
}

/** The signature algorithms a public key can verify (the first is the default). */
function algorithmsOfKey(pem: string): JwtAlgorithm[] {
  const key = createPublicKey(pem);
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === 'prime256v1' ? ['ES256'] : curve === 'secp384r1' ? ['ES384'] : [];
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      return [];
  }
}

function jwtConfig(e: Env): AuthConfig['jwt'] {
  const common = { issuer: e.AUTH_JWT_ISSUER, audience: e.AUTH_JWT_AUDIENCE };
  if (e.AUTH_JWT_SECRET)
    return { key: { secret: e.AUTH_JWT_SECRET }, algorithm: e.AUTH_JWT_ALGORITHM ?? 'HS256', ...common };
  if (e.AUTH_JWT_PUBLIC_KEY) {
    const publicKeyPem = unescapePem(e.AUTH_JWT_PUBLIC_KEY);
    const algorithm = e.AUTH_JWT_ALGORITHM ?? (algorithmsOfKey(publicKeyPem)[0] as JwtAlgorithm);
    return { key: { publicKeyPem }, algorithm, ...common };
  }
  return undefined;
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
