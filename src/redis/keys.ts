import { createHash } from 'node:crypto';
import { type Buckets, bucketCountOf, createBuckets } from './buckets.js';
import type { Channels } from './channels.js';

/**
 * The only place Redis key names are built.
 *
 * The `{b<k>}` braces are a Redis Cluster hash tag, that of the upload's
 * bucket (buckets.ts): an upload's hash, its set of received chunks, its byte
 * state, its lock and its entries in its bucket's indexes hash to one slot, so
 * one script records a write with everything that follows from it.
 */
type UploadKeys = Readonly<{
  upload: string;
  chunksReceived: string;
  /** What the byte store keeps of the upload (the S3 store: its multipart upload, parts and tail). */
  bytes: string;
  /** The indexes of the upload's bucket. */
  indexes: IndexKeys;
}>;

/**
 * One bucket's sorted sets that find uploads without scanning the keyspace.
 * Scripts that move an upload take them as their last six keys, in this order
 * (see scripts/prelude.lua).
 */
export type IndexKeys = Readonly<{
  /** Upload IDs scored by the time (ms) their keys and bytes are due for removal. */
  expiry: string;
  /** Upload IDs scored by their latest activity (ms), for the uploads list. */
  recent: string;
  /** The same, for the uploads in one status. */
  status(status: string): string;
  /** expiry, recent, then the status indexes of uploading, assembling, completed and failed. */
  all: readonly string[];
}>;

const INDEXED_STATUSES = ['uploading', 'assembling', 'completed', 'failed'] as const;

export type Keys = Readonly<{
  prefix: string;
  /** The buckets uploads are spread over. */
  buckets: Buckets;
  forUpload(id: string): UploadKeys;
  /** A SCAN pattern matching every upload's keys (its hash, set and byte state). */
  uploadPattern: string;
  /** The upload whose hash `key` is (in this layout), else undefined. */
  uploadIdOf(key: string): string | undefined;
  /** Every bucket's indexes, bucket 0 first: readers of the indexes merge them. */
  indexes: readonly IndexKeys[];
  /** Pub/sub channels on which every change to an upload is published, for live updates on any instance (see channels.ts). */
  events: Channels;
  /**
   * Set of the upload IDs of one group (the parts of one file uploaded in
   * parallel). Group names are the clients' own, so each owner has theirs:
   * another user cannot add to, or learn of, someone's group.
   */
  group(group: string, owner: string | undefined): string;
  /** Which final upload was made of a given list of partials (so a retried final POST makes no second one). */
  concatenation(partialsDigest: string): string;
  /** Which upload a creation with one owner's Idempotency-Key made (so a retried creation makes no second one). */
  idempotency(owner: string | undefined, key: string): string;
  /** An upload's lock (same slot as its keys). */
  lock(id: string): string;
  /** An instance's liveness key (see InstanceLiveness): gone means the instance may be taken for dead. */
  instance(id: string): string;
  /** Pub/sub channels on which a request waiting for a lock asks its holder, in any process, to let go. */
  lockRelease: Channels;
  /** Written by readiness checks (/readyz): a Redis that refuses writes is not ready. */
  readinessProbe: string;
  /** Held by the one sweeper running at a time, across all instances. */
  sweeperLock: string;
  /** Set when the orphan pass last ran, so it runs once per interval across all instances. */
  orphanPassMarker: string;
  /** Where the orphan pass's walk of the expiry index stopped, so the next pass goes on from there. */
  orphanScanCursor: string;
  /** The webhook outbox of the upload's bucket (all of one outbox is in one slot, so its scripts may touch all of it). */
  webhooksOf(id: string): WebhookKeys;
  /**
   * Every outbox the dispatcher takes deliveries from: each bucket's, then
   * that of the builds before buckets (`webhooks:{outbox}`), drained and never
   * appended to.
   */
  outboxes: readonly WebhookKeys[];
  /** Sorted set of one owner's unfinished uploads, scored by when each stops counting (its expiry). */
  ownerActive(owner: string): string;
}>;

export type WebhookKeys = Readonly<{
  /** Stream of deliveries not yet made: url, key, type, body. */
  outbox: string;
  /** Set of the names of the queues below that may hold deliveries. */
  queues: string;
  /** One URL's queue, a sorted set: outbox entry ID -> when to (re)try it (ms). */
  queue(url: string): string;
  /** Hash: outbox entry ID -> failed attempts so far. */
  attempts: string;
  /** Stream of deliveries given up on, with their last error. */
  dead: string;
}>;

/** A classic channel and its sharded ones, one per bucket, named by `shard` from the bucket's hash tag. */
function channels(buckets: Buckets, classic: string, shard: (tag: string) => string): Channels {
  return Object.freeze({
    classic,
    shardOf: (id: string) => shard(buckets.tagOf(id)),
    shards: Object.freeze(buckets.tags.map(shard)),
  });
}

function indexKeys(prefix: string, tag: string): IndexKeys {
  const status = (s: string) => `${prefix}uploads:{${tag}}:status:${s}`;
  const expiry = `${prefix}uploads:{${tag}}:expiry`;
  const recent = `${prefix}uploads:{${tag}}:recent`;
  return Object.freeze({
    expiry,
    recent,
    status,
    all: Object.freeze([expiry, recent, ...INDEXED_STATUSES.map(status)]),
  });
}

/** The keys of one webhook outbox, all named after its stream (so all in its slot). */
function webhookKeys(outbox: string): WebhookKeys {
  return Object.freeze({
    outbox,
    queues: `${outbox}:queues`,
    queue: (url: string) => `${outbox}:due:${createHash('sha256').update(url).digest('hex').slice(0, 16)}`,
    attempts: `${outbox}:attempts`,
    dead: `${outbox}:dead`,
  });
}

/** The keys of a deployment configured with REDIS_KEY_PREFIX, REDIS_URL and REDIS_BUCKETS. */
export const keysFor = (
  redis: Readonly<{ keyPrefix: string; url?: string | undefined; buckets?: number | undefined }>,
) => createKeys(redis.keyPrefix, bucketCountOf(redis));

/** The keys of a deployment with `prefix` and `bucketCount` buckets (see bucketCountOf). */
export function createKeys(prefix: string, bucketCount: number): Keys {
  if (/[{}]/.test(prefix)) throw new Error('a key prefix must not contain { or }');
  const buckets = createBuckets(bucketCount);
  const indexes = Object.freeze(buckets.tags.map((tag) => indexKeys(prefix, tag)));
  const outboxes = Object.freeze([
    ...buckets.tags.map((tag) => webhookKeys(`${prefix}webhooks:{${tag}}:outbox`)),
    webhookKeys(`${prefix}webhooks:{outbox}`),
  ]);
  return Object.freeze({
    prefix,
    buckets,
    forUpload(id: string): UploadKeys {
      const bucket = buckets.of(id);
      const upload = `${prefix}upload:{${buckets.tags[bucket]}}:${id}`;
      return {
        upload,
        chunksReceived: `${upload}:chunks_received`,
        bytes: `${upload}:bytes`,
        indexes: indexes[bucket] as IndexKeys,
      };
    },
    uploadPattern: `${prefix}upload:{*}:*`,
    uploadIdOf(key: string): string | undefined {
      const match = /^upload:\{([^}]+)\}:([0-9a-f-]{36})$/.exec(key.slice(prefix.length));
      return key.startsWith(prefix) && match?.[2] && match[1] === buckets.tagOf(match[2]) ? match[2] : undefined;
    },
    indexes,
    events: channels(buckets, `${prefix}uploads:events`, (tag) => `${prefix}uploads:{${tag}}:events`),
    group: (group: string, owner: string | undefined) =>
      owner === undefined ? `${prefix}group:{${group}}` : `${prefix}group:{${encodeURIComponent(owner)}/${group}}`,
    concatenation: (partialsDigest: string) => `${prefix}concat:{${partialsDigest}}`,
    // The client's key and its owner, hashed: no brace or space of theirs shapes the key, and its length is bounded.
    idempotency: (owner: string | undefined, key: string) =>
      `${prefix}idempotency:{${createHash('sha256')
        .update(`${owner === undefined ? '-' : `+${owner}`}\n${key}`)
        .digest('hex')
        .slice(0, 32)}}`,
    lock: (id: string) => `${prefix}lock:{${buckets.tagOf(id)}}:${id}`,
    instance: (id: string) => `${prefix}instance:{${id}}`,
    lockRelease: channels(buckets, `${prefix}locks:release`, (tag) => `${prefix}locks:{${tag}}:release`),
    readinessProbe: `${prefix}readyz`,
    sweeperLock: `${prefix}sweeper:lock`,
    orphanPassMarker: `${prefix}sweeper:orphan-pass`,
    orphanScanCursor: `${prefix}sweeper:orphan-cursor`,
    webhooksOf: (id: string) => outboxes[buckets.of(id)] as WebhookKeys,
    outboxes,
    // Owners are names chosen elsewhere (a token's sub): encoded, so no brace or space of theirs shapes the key.
    ownerActive: (owner: string) => `${prefix}owner:{${encodeURIComponent(owner)}}:active`,
  });
}

/** An upload's keys as some layout names them, found by the migration. */
export type FoundUpload = Readonly<{
  id: string;
  upload: string;
  chunksReceived: string;
  bytes: string;
  lock: string;
  /** The indexes that list it, in that layout. */
  indexes: readonly string[];
}>;

/**
 * The key names of every layout this server has used, for the migration
 * (migrate-keys.ts) and the webhook dispatcher's drain of old outboxes: the
 * one before buckets (`upload:{<id>}`, one set of global indexes, one outbox
 * `webhooks:{outbox}`) and bucket layouts of any count (`upload:{b<k>}:<id>`).
 * A layout is named by its bucket's tag, or null for the one before buckets.
 */
export function earlierLayouts(prefix: string) {
  const legacyIndexes = [
    `${prefix}uploads:expiry`,
    `${prefix}uploads:recent`,
    ...INDEXED_STATUSES.map((s) => `${prefix}uploads:status:${s}`),
  ];
  /** Upload `id`'s keys in the layout of bucket tag `tag` (null: before buckets). */
  const uploadIn = (tag: string | null, id: string): FoundUpload =>
    tag === null
      ? found(id, `${prefix}upload:{${id}}`, `${prefix}lock:{${id}}`, legacyIndexes)
      : found(id, `${prefix}upload:{${tag}}:${id}`, `${prefix}lock:{${tag}}:${id}`, indexKeys(prefix, tag).all);
  return Object.freeze({
    /** A SCAN pattern that matches the keys of an upload in every layout. */
    pattern: `${prefix}upload:{*`,
    /** A SCAN pattern that matches the indexes of every layout. */
    indexPattern: `${prefix}uploads:*`,
    /** A SCAN pattern that matches the outbox streams of every bucket layout. */
    outboxPattern: `${prefix}webhooks:{*}:outbox`,
    /** The global indexes of the layout before buckets: while they exist, uploads may be kept in it. */
    legacyIndexes,
    uploadIn,
    /** The upload whose key `key` is (its hash, set or byte state), with its keys in the layout `key` is in. */
    uploadOf(key: string): FoundUpload | undefined {
      if (!key.startsWith(prefix)) return undefined;
      const rest = key.slice(prefix.length);
      const legacy = /^upload:\{([0-9a-f-]{36})\}(?::chunks_received|:bytes)?$/.exec(rest);
      if (legacy?.[1]) return uploadIn(null, legacy[1]);
      const bucketed = /^upload:\{(b[0-9.]+)\}:([0-9a-f-]{36})(?::chunks_received|:bytes)?$/.exec(rest);
      return bucketed?.[1] && bucketed[2] ? uploadIn(bucketed[1], bucketed[2]) : undefined;
    },
    /** The layout (tag, or null) and kind of the index `key` is, if it is one. */
    indexOf(key: string): { tag: string | null; expiry: boolean } | undefined {
      if (!key.startsWith(prefix)) return undefined;
      const match = /^uploads:(?:\{(b[0-9.]+)\}:)?(expiry|recent|status:[a-z]+)$/.exec(key.slice(prefix.length));
      return match ? { tag: match[1] ?? null, expiry: match[2] === 'expiry' } : undefined;
    },
    /** The keys of the outbox whose stream is `stream` (found with outboxPattern). */
    outboxOf: (stream: string): WebhookKeys => webhookKeys(stream),
  });
}

const found = (id: string, upload: string, lock: string, indexes: readonly string[]): FoundUpload =>
  Object.freeze({ id, upload, chunksReceived: `${upload}:chunks_received`, bytes: `${upload}:bytes`, lock, indexes });
