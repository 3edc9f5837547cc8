import { createPublicKey } from 'node:crypto';
import { AZURE_UNCOMMITTED_BLOCKS_KEPT_MS } from '../uploads/bytes/azure/azure-limits.js';
import { S3_LIMITS } from '../uploads/bytes/s3/s3-limits.js';
import type { Setting } from './setting-types.js';
import { type JWT_ALGORITHMS, SETTINGS } from './settings.js';

type Settings = typeof SETTINGS;
type ValueOf<S> = S extends Setting<infer T> ? T : never;
type GroupValues<G> = { readonly [K in keyof G]: ValueOf<G[K]> };
/** The configuration as the settings define it, group by group. */
type SettingValues = { readonly [G in keyof Settings]: GroupValues<Settings[G]> };

type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** What checks a bearer token, derived from the AUTH_JWT_* settings together. */
type JwtConfig = Readonly<{
  key: { secret: string } | { publicKeyPem: string };
  algorithm: JwtAlgorithm;
  issuer: string | undefined;
  audience: string | undefined;
}>;

/** The configuration: one frozen object, each group's values read from its settings, plus the token check they make up. */
export type Config = Readonly<
  Omit<SettingValues, 'auth'> & { auth: SettingValues['auth'] & { jwt: JwtConfig | undefined } }
>;

/** What one owner may do (0: no limit). */
export type OwnerLimits = Config['limits'];
export type WebhookConfig = Config['webhooks'];
export type AuthConfig = Config['auth'];

/** CORS_ORIGINS empty or containing `*`. */
export const allowsAnyOrigin = (config: Pick<Config, 'server'>): boolean =>
  config.server.corsOrigins.length === 0 || config.server.corsOrigins.includes('*');

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from environment variables; throws one ConfigError listing every bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const groups: Record<string, Record<string, unknown>> = {};
  for (const [groupName, group] of Object.entries(SETTINGS)) {
    const values: Record<string, unknown> = {};
    for (const [key, setting] of Object.entries(group) as Array<[string, Setting<unknown>]>) {
      const given = env[setting.env];
      const raw = given === undefined || given === '' ? setting.fallback : given;
      if (raw === undefined) {
        values[key] = undefined;
        continue;
      }
      const parsed = setting.type.schema.safeParse(raw);
      if (parsed.success) values[key] = parsed.data;
      else {
        const got = setting.secret ? 'the value is not shown: it is a secret' : `got ${JSON.stringify(given)}`;
        problems.push(`${setting.env}: ${parsed.error.issues[0]?.message} (${got})`);
      }
    }
    groups[groupName] = values;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const values = groups as unknown as SettingValues;
  const combined = combinationProblems(values);
  if (combined.length > 0) throw new ConfigError(combined);
  const webhooks = values.webhooks;
  return deepFreeze({
    ...values,
    auth: { ...values.auth, jwt: jwtConfig(values.auth) },
    webhooks: { ...webhooks, retryMaxMs: Math.max(webhooks.retryMaxMs, webhooks.retryBaseMs) },
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Settings that are valid alone but not together, or that would silently do nothing. */
function combinationProblems({ auth, webhooks, storage, uploads }: SettingValues): string[] {
  const problems: string[] = storageProblems(storage, uploads);
  if (auth.jwtSecret && auth.jwtPublicKey) {
    problems.push('AUTH_JWT_SECRET and AUTH_JWT_PUBLIC_KEY: set one of them, not both');
  }
  const tokenSettings = (['jwtAlgorithm', 'jwtIssuer', 'jwtAudience'] as const)
    .filter((key) => auth[key])
    .map((key) => SETTINGS.auth[key].env);
  if (tokenSettings.length > 0 && !auth.jwtSecret && !auth.jwtPublicKey) {
    problems.push(
      `${tokenSettings.join(', ')}: no token is checked without AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY; set one`,
    );
  }
  const algorithm = auth.jwtAlgorithm;
  if (auth.jwtSecret && algorithm && !algorithm.startsWith('HS')) {
    problems.push(`AUTH_JWT_ALGORITHM: ${algorithm} does not go with a secret (use HS256, HS384 or HS512)`);
  }
  if (auth.jwtPublicKey) {
    const fitting = algorithmsOfKey(auth.jwtPublicKey);
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
  if (webhooks.secret && webhooks.urls.length === 0) {
    problems.push('WEBHOOK_SECRET: no webhook is sent without WEBHOOK_URLS; set it');
  }
  return problems;
}

const S3_MIN_PART_BYTES = S3_LIMITS.minChunkBytes;
const S3_ONLY = ['s3Bucket', 's3Endpoint'] as const;
const AZURE_ONLY = [
  'azureContainer',
  'azureAccount',
  'azureKey',
  'azureSasToken',
  'azureConnectionString',
  'azureEndpoint',
] as const;

/** Settings of another STORAGE than the one chosen, which would be ignored: said, so that a typo is not silent. */
function ignoredStorageSettings(storage: SettingValues['storage']): string[] {
  const names = (keys: readonly (keyof SettingValues['storage'])[]) =>
    keys.filter((key) => storage[key]).map((key) => SETTINGS.storage[key].env);
  const problems: string[] = [];
  const s3 = storage.kind === 's3' ? [] : names(S3_ONLY);
  const azure = storage.kind === 'azure' ? [] : names(AZURE_ONLY);
  if (s3.length > 0) problems.push(`${s3.join(', ')}: has no effect without STORAGE=s3; set STORAGE=s3 or unset it`);
  if (azure.length > 0) {
    problems.push(`${azure.join(', ')}: has no effect without STORAGE=azure; set STORAGE=azure or unset it`);
  }
  return problems;
}

function storageProblems(
  storage: SettingValues['storage'],
  { chunkSizeBytes, ttlMs }: Pick<SettingValues['uploads'], 'chunkSizeBytes' | 'ttlMs'>,
): string[] {
  const problems = ignoredStorageSettings(storage);
  if (storage.kind === 's3') {
    if (!storage.s3Bucket) problems.push('S3_BUCKET: required with STORAGE=s3 (the bucket must exist already)');
    if (chunkSizeBytes < S3_MIN_PART_BYTES) {
      problems.push(
        `CHUNK_SIZE_BYTES: with STORAGE=s3 a chunk is an S3 part, at least ${S3_MIN_PART_BYTES} bytes (5 MiB); got ${chunkSizeBytes}`,
      );
    }
  }
  if (storage.kind === 'azure') problems.push(...azureProblems(storage));
  // "Uncommitted blocks are garbage collected if there are no successful calls to Put Block or Put Block List
  // on the blob within a one-week period" (Azure's Put Block reference): an unfinished upload lives no longer.
  if (storage.kind === 'azure' && ttlMs > AZURE_UNCOMMITTED_BLOCKS_KEPT_MS) {
    problems.push(
      `UPLOAD_TTL_SECONDS: with STORAGE=azure at most ${AZURE_UNCOMMITTED_BLOCKS_KEPT_MS / 1000} (7 days: Azure discards the blocks of an unfinished upload a week after the last one); got ${ttlMs / 1000}`,
    );
  }
  return problems;
}

/** STORAGE=azure needs a container and one way in: a connection string, or an account with its key or a SAS. */
function azureProblems(storage: SettingValues['storage']): string[] {
  const problems: string[] = [];
  if (!storage.azureContainer) {
    problems.push('AZURE_CONTAINER: required with STORAGE=azure (the container must exist already)');
  }
  const { azureConnectionString: connection, azureAccount: account, azureKey: key, azureSasToken: sas } = storage;
  if (connection) {
    const besides = (['azureAccount', 'azureKey', 'azureSasToken', 'azureEndpoint'] as const)
      .filter((k) => storage[k])
      .map((k) => SETTINGS.storage[k].env);
    if (besides.length > 0) {
      problems.push(`AZURE_STORAGE_CONNECTION_STRING: already names the account; unset ${besides.join(', ')}`);
    }
    if (!/AccountKey=|SharedAccessSignature=/i.test(connection)) {
      problems.push('AZURE_STORAGE_CONNECTION_STRING: must hold AccountKey=... or SharedAccessSignature=...');
    }
    return problems;
  }
  if (!account) {
    problems.push('AZURE_STORAGE_ACCOUNT: required with STORAGE=azure (or set AZURE_STORAGE_CONNECTION_STRING)');
  }
  if (key && sas) problems.push('AZURE_STORAGE_KEY and AZURE_STORAGE_SAS_TOKEN: set one of them, not both');
  if (!key && !sas) {
    problems.push('AZURE_STORAGE_KEY: required with STORAGE=azure (or set AZURE_STORAGE_SAS_TOKEN)');
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

function jwtConfig(auth: SettingValues['auth']): JwtConfig | undefined {
  const common = { issuer: auth.jwtIssuer, audience: auth.jwtAudience };
  if (auth.jwtSecret) return { key: { secret: auth.jwtSecret }, algorithm: auth.jwtAlgorithm ?? 'HS256', ...common };
  if (auth.jwtPublicKey) {
    const algorithm = auth.jwtAlgorithm ?? (algorithmsOfKey(auth.jwtPublicKey)[0] as JwtAlgorithm);
    return { key: { publicKeyPem: auth.jwtPublicKey }, algorithm, ...common };
  }
  return undefined;
}
