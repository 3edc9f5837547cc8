import { createHash } from 'node:crypto';
import { BUCKET_TAGS, bucketTagOf } from './buckets.js';
import type { Channels } from './channels.js';

/**
 * The only place Redis key names are built.
 *
 * The `{<id>}` braces are a Redis Cluster hash tag: an upload's hash and its set
 * of received chunks always hash to the same slot, so one script may touch both.
 */
type UploadKeys = Readonly<{
  upload: string;
  chunksReceived: string;
  /** What the byte store keeps of the upload (the S3 store: its multipart upload, parts and tail). */
  bytes: string;
}>;

export type Keys = Readonly<{
  prefix: string;
  forUpload(id: string): UploadKeys;
  /** Sorted set of upload IDs scored by the time (ms) their keys and bytes are due for removal. */
  expiryIndex: string;
  /** Sorted set of upload IDs scored by their latest activity (ms), for the uploads list. */
  recentIndex: string;
  /** The same, for the uploads in one status. */
  statusIndex(status: string): string;
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
  /** The webhook outbox (one slot, so its scripts may touch all of it). */
  webhooks: WebhookKeys;
  /** Sorted set of one owner's unfinished uploads, scored by when each stops counting (its expiry). */
  ownerActive(owner: string): string;
}>;

type WebhookKeys = Readonly<{
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
function channels(classic: string, shard: (tag: string) => string): Channels {
  return Object.freeze({
    classic,
    shardOf: (id: string) => shard(bucketTagOf(id)),
    shards: Object.freeze(BUCKET_TAGS.map(shard)),
  });
}

export function createKeys(prefix: string): Keys {
  if (/[{}]/.test(prefix)) throw new Error('a key prefix must not contain { or }');
  return Object.freeze({
    prefix,
    forUpload(id: string): UploadKeys {
      const upload = `${prefix}upload:{${id}}`;
      return { upload, chunksReceived: `${upload}:chunks_received`, bytes: `${upload}:bytes` };
    },
    expiryIndex: `${prefix}uploads:expiry`,
    recentIndex: `${prefix}uploads:recent`,
    statusIndex: (status: string) => `${prefix}uploads:status:${status}`,
    events: channels(`${prefix}uploads:events`, (tag) => `${prefix}uploads:{${tag}}:events`),
    group: (group: string, owner: string | undefined) =>
      owner === undefined ? `${prefix}group:{${group}}` : `${prefix}group:{${encodeURIComponent(owner)}/${group}}`,
    concatenation: (partialsDigest: string) => `${prefix}concat:{${partialsDigest}}`,
    // The client's key and its owner, hashed: no brace or space of theirs shapes the key, and its length is bounded.
    idempotency: (owner: string | undefined, key: string) =>
      `${prefix}idempotency:{${createHash('sha256')
        .update(`${owner === undefined ? '-' : `+${owner}`}\n${key}`)
        .digest('hex')
        .slice(0, 32)}}`,
    lock: (id: string) => `${prefix}lock:{${id}}`,
    instance: (id: string) => `${prefix}instance:{${id}}`,
    lockRelease: channels(`${prefix}locks:release`, (tag) => `${prefix}locks:{${tag}}:release`),
    readinessProbe: `${prefix}readyz`,
    sweeperLock: `${prefix}sweeper:lock`,
    orphanPassMarker: `${prefix}sweeper:orphan-pass`,
    orphanScanCursor: `${prefix}sweeper:orphan-cursor`,
    webhooks: Object.freeze({
      outbox: `${prefix}webhooks:{outbox}`,
      queues: `${prefix}webhooks:{outbox}:queues`,
      queue: (url: string) =>
        `${prefix}webhooks:{outbox}:due:${createHash('sha256').update(url).digest('hex').slice(0, 16)}`,
      attempts: `${prefix}webhooks:{outbox}:attempts`,
      dead: `${prefix}webhooks:{outbox}:dead`,
    }),
    // Owners are names chosen elsewhere (a token's sub): encoded, so no brace or space of theirs shapes the key.
    ownerActive: (owner: string) => `${prefix}owner:{${encodeURIComponent(owner)}}:active`,
  });
}
