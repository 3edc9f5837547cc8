import { appError } from '../../errors/app-error.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import { checkedReply, isGone } from '../../redis/script-replies.js';
import { initialFields, type NewUpload, type UploadStatus } from '../model/upload-record.js';
import type { UploadIndexes } from './indexes.js';

/** The most uploads one group may have (the parts of one file, and its final upload). */
const MAX_GROUP_MEMBERS = 1000;

export type ProgressState = Readonly<{ offset: number; receivedChunks: number; status: UploadStatus }>;

export type TrackerPolicy = Readonly<{
  /** How long a completed upload is kept after it completed. */
  completedRetentionMs: number;
  /** TTL of a group's set, renewed as members join: longer than any member lives. */
  groupTtlMs: number;
  /** Whether the byte store keeps state of its own in Redis (`upload:…:bytes`: S3, Azure); unset: it may. */
  byteState?: boolean;
}>;

/**
 * The write model: every change to an upload's state in Redis goes through here.
 * Each write is one script or command whose effect is the same when repeated,
 * because ioredis resends a command whose reply was lost.
 */
export class UploadTracker {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly policy: TrackerPolicy,
    readonly indexes: UploadIndexes,
  ) {}

  /** A script's flag: '0' when the byte store keeps nothing in Redis, so no call touches its missing key. */
  private get byteStateFlag(): string {
    return this.policy.byteState === false ? '0' : '1';
  }

  async create(upload: NewUpload): Promise<void> {
    const k = this.keys.forUpload(upload.id);
    // The record and its index entries in one script: the sweeper knows of every record.
    const created = await this.redis.createUpload(
      k.upload,
      k.chunksReceived,
      ...k.indexes.all,
      upload.id,
      upload.expiresAt,
      upload.createdAt,
      upload.status ?? 'uploading',
      ...initialFields(upload),
    );
    this.indexes.written(upload.id, upload.status ?? 'uploading');
    if (created === 0) throw new Error(`upload ${upload.id} already exists`);
  }

  /** Records that bytes [0, offset) are stored; undefined when the upload is gone. */
  async recordProgress(id: string, offset: number, now = Date.now()): Promise<ProgressState | undefined> {
    const k = this.keys.forUpload(id);
    const reply = await this.redis.recordProgress(
      k.upload,
      k.chunksReceived,
      k.bytes,
      ...k.indexes.all,
      id,
      offset,
      now,
      '',
      0,
      this.byteStateFlag,
    );
    if (isGone(reply)) return undefined;
    const [stored, receivedChunks, status] = checkedReply('recordProgress', reply, id);
    this.indexes.written(id, status);
    return { offset: stored, receivedChunks, status: status as UploadStatus };
  }

  /** Moves the recorded offset back to what is really stored; returns the chunks uncounted. */
  async rewindProgress(id: string, offset: number, now = Date.now()): Promise<number> {
    const k = this.keys.forUpload(id);
    const removed = await this.redis.rewindProgress(k.upload, k.chunksReceived, ...k.indexes.all, id, offset, now);
    if (isGone(removed)) return 0;
    this.indexes.written(id, 'uploading');
    return removed;
  }

  async declareLength(id: string, size: number, now = Date.now()): Promise<number> {
    return checkedReply('declareLength', await this.redis.declareLength(this.keys.forUpload(id).upload, size, now), id);
  }

  /**
   * assembling → completed: records the SHA-256 (left out when the server
   * records no digest, UPLOAD_DIGEST=none) and keeps the upload for the
   * retention period. With `recorded`, the progress of the write that stored
   * the last byte is recorded in the same script (it makes the upload
   * assembling, then completed).
   */
  async complete(id: string, sha256: string | undefined, now = Date.now(), recorded?: number): Promise<boolean> {
    const keepUntil = now + this.policy.completedRetentionMs;
    const fields = ['completedAt', now, ...(sha256 === undefined ? [] : ['sha256', sha256])];
    const k = this.keys.forUpload(id);
    const keys = [k.upload, k.chunksReceived, k.bytes, ...k.indexes.all];
    let moved: number;
    if (recorded === undefined) {
      moved = await this.redis.finishAssembly(...keys, id, 'completed', now, keepUntil, this.byteStateFlag, ...fields);
    } else {
      const reply = await this.redis.recordProgress(
        ...keys,
        id,
        recorded,
        now,
        'completed',
        keepUntil,
        this.byteStateFlag,
        ...fields,
      );
      moved = checkedReply('recordProgress', reply, id)[4];
    }
    this.indexes.written(id, 'completed');
    return moved === 1;
  }

  /** assembling → failed, with a reason; the upload keeps its expiry. */
  async fail(id: string, reason: string, expiresAt: number, now = Date.now()): Promise<boolean> {
    const k = this.keys.forUpload(id);
    const moved = await this.redis.finishAssembly(
      k.upload,
      k.chunksReceived,
      k.bytes,
      ...k.indexes.all,
      id,
      'failed',
      now,
      expiresAt,
      this.byteStateFlag,
      'error',
      reason,
    );
    this.indexes.written(id, 'failed');
    return moved === 1;
  }

  /** Counts one request that ended without storing its whole body (once per request ID). */
  async recordFailure(id: string, requestId: string, now = Date.now()): Promise<number | undefined> {
    const reply = await this.redis.recordFailure(this.keys.forUpload(id).upload, requestId, now);
    return isGone(reply) ? undefined : reply;
  }

  /** Notes that bytes from `offset` on are being written unverified (a PATCH with Upload-Checksum). */
  async markUnverified(id: string, offset: number): Promise<boolean> {
    return !isGone(await this.redis.setFieldsIfExists(this.keys.forUpload(id).upload, 'unverifiedFrom', offset));
  }

  /** Notes which of the upload's events has its webhook in the outbox (see webhooks/outbox.ts). */
  async markAnnounced(id: string, event: 'created' | 'completed' | 'failed'): Promise<void> {
    await this.redis.setFieldsIfExists(this.keys.forUpload(id).upload, 'announced', event);
  }

  async clearUnverified(id: string): Promise<void> {
    await this.redis.hdel(this.keys.forUpload(id).upload, 'unverifiedFrom');
  }

  /** Deletes the keys of an upload at once, and its index entry; false when there was no record. */
  async remove(id: string): Promise<boolean> {
    const k = this.keys.forUpload(id);
    const [deleted] = await Promise.all([this.redis.del(k.upload, k.chunksReceived, k.bytes), this.indexes.forget(id)]);
    return deleted > 0;
  }

  /** Links an upload to the group of parts of one file uploaded in parallel. */
  async addToGroup(group: string, owner: string | undefined, id: string): Promise<void> {
    const key = this.keys.group(group, owner);
    // A bound on members is a bound on what one read of the group costs (the group progress route).
    if ((await this.redis.joinGroup(key, id, MAX_GROUP_MEMBERS, this.policy.groupTtlMs)) === 0) {
      throw appError('GROUP_FULL', { most: MAX_GROUP_MEMBERS });
    }
  }
}
