import type { RedisClient } from '../../../redis/client.js';
import type { Keys } from '../../../redis/keys.js';
import { checkedReply, isGone } from '../../../redis/script-replies.js';

/**
 * What an object store (S3, Azure Blob) durably holds of an upload, as
 * recorded in Redis (the hash `upload:{<id>}:bytes`, in the upload's slot and
 * with its expiry): S3's multipart upload, the parts the store acknowledged
 * (in order: an S3 part's ETag, an Azure block's ID), and the tail (the bytes
 * of the next part received so far, kept as an object of their own). HEAD and
 * progress read this, never the object store.
 */
export type ByteState = Readonly<{
  /** S3's multipart upload, once one is started (at the first part: an upload stored whole in one request needs none; Azure never has one). */
  uploadId: string | undefined;
  partSize: number;
  partCount: number;
  /** Bytes of the recorded parts. */
  held: number;
  tail: { key: string; length: number; part: number } | undefined;
  /** Set once the parts are assembled (S3: the multipart upload completed; Azure: the block list committed): the object is whole. */
  sealed: { size: number; etag: string } | undefined;
}>;

export const heldBytes = (state: ByteState): number =>
  state.sealed ? state.sealed.size : state.held + (state.tail?.length ?? 0);

const STATE_FIELDS = [
  'uploadId',
  'partSize',
  'partCount',
  'held',
  'tailKey',
  'tailLength',
  'tailPart',
  'sealed',
  'size',
  'etag',
];

/** What the state records in place of a multipart upload until one is started. */
const NO_MULTIPART = 'none';

/** Reads and changes the recorded byte state; each change is one script that holds when resent. */
export class ByteStates {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  private keysOf(id: string): [string, string] {
    const k = this.keys.forUpload(id);
    return [k.upload, k.bytes];
  }

  /** The state of a new upload: no multipart upload yet (see `startMultipart`). */
  async create(id: string, partSize: number): Promise<boolean> {
    const reply = await this.redis.createByteState(...this.keysOf(id), 'uploadId', NO_MULTIPART, 'partSize', partSize);
    return checkedReply('createByteState', reply, id) === 1;
  }

  /** The multipart upload the upload's parts go to, now started; false when the upload is gone. */
  async startMultipart(id: string, uploadId: string): Promise<boolean> {
    return !isGone(await this.redis.setFieldsIfExists(this.keysOf(id)[1], 'uploadId', uploadId));
  }

  async read(id: string): Promise<ByteState | undefined> {
    const f = await this.redis.hmget(this.keysOf(id)[1], ...STATE_FIELDS);
    const [uploadId, partSize, partCount, held, tailKey, tailLength, tailPart, sealed, size, etag] = f;
    if (sealed) {
      const done = { size: Number(size), etag: etag ?? '' };
      return { uploadId: undefined, partSize: 0, partCount: 0, held: done.size, tail: undefined, sealed: done };
    }
    if (!uploadId) return undefined;
    return {
      uploadId: uploadId === NO_MULTIPART ? undefined : uploadId,
      partSize: Number(partSize),
      partCount: Number(partCount ?? 0),
      held: Number(held ?? 0),
      tail: tailKey ? { key: tailKey, length: Number(tailLength), part: Number(tailPart) } : undefined,
      sealed: undefined,
    };
  }

  /** What identifies parts 1..count in the store (S3: ETags; Azure: block IDs), in order. */
  async parts(id: string, count: number): Promise<string[]> {
    if (count === 0) return [];
    const names = Array.from({ length: count }, (_, i) => `p:${i + 1}`);
    const etags = await this.redis.hmget(this.keysOf(id)[1], ...names);
    return etags.map((etag, i) => {
      if (!etag) throw new Error(`part ${i + 1} of upload ${id} is not recorded`);
      return etag;
    });
  }

  /** Records part n (`length` bytes); returns the key of a tail it absorbed (to delete), or ''. */
  async recordPart(id: string, n: number, etag: string, length: number): Promise<string> {
    return checkedReply('recordPart', await this.redis.recordPart(...this.keysOf(id), n, etag, length), id)[1];
  }

  /** Records the tail of part n; returns the key of the tail it replaced (to delete), or ''. */
  async recordTail(id: string, n: number, key: string, length: number): Promise<string> {
    return checkedReply('recordTail', await this.redis.recordTail(...this.keysOf(id), n, key, length), id)[1];
  }

  async seal(id: string, size: number, etag: string): Promise<void> {
    checkedReply('sealByteState', await this.redis.sealByteState(...this.keysOf(id), size, etag), id);
  }

  /** Cuts the recorded bytes back to at most `length`; returns what is held then, and a tail to delete. */
  async truncate(id: string, length: number, partSize: number): Promise<{ held: number; dropped: string }> {
    const reply = await this.redis.truncateByteState(...this.keysOf(id), length, partSize);
    if (isGone(reply)) return { held: 0, dropped: '' };
    return { held: Number(reply[0]), dropped: String(reply[1]) };
  }

  async remove(id: string): Promise<void> {
    await this.redis.del(this.keysOf(id)[1]);
  }
}
