import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  PutObjectCommand,
  type PutObjectCommandOutput,
  UploadPartCommand,
  type UploadPartCommandOutput,
} from '@aws-sdk/client-s3';
import { appError } from '../../../errors/app-error.js';
import type { ByteStore, PartialBytes, StagedBytes, WriteGate, WriteOptions } from '../byte-store.js';
import { type ByteState, heldBytes } from '../parts/byte-state.js';
import { PartBody } from '../parts/part-body.js';
import { nothingStaged, stagedPiece, withPiece } from '../parts/piece.js';
import type { S3Bucket } from './s3-bucket.js';
import { concatenateInS3 } from './s3-concatenation.js';
import { S3_LIMITS } from './s3-limits.js';
import { multipartOf } from './s3-multipart.js';
import { fetchObject, listUploads, probeBucket, removeUpload } from './s3-objects.js';
import { sealUpload } from './s3-seal.js';
import type { S3ByteStoreDeps } from './s3-store-deps.js';

/**
 * Bytes in an S3 bucket. The chunk grid is the part grid: chunk i is received
 * when part i+1 is stored. While an upload is unfinished its bytes are a
 * multipart upload for `<prefix><id>`, plus at most one tail object
 * `<prefix><id>.tail-<random>` holding the bytes of the next part received so
 * far; what S3 holds is recorded in Redis (see ByteStates) as S3 acknowledges
 * it, so HEAD never asks S3. A part lying wholly inside a request of known
 * length streams to S3 as it arrives; once completed, the upload is the one
 * object `<prefix><id>`.
 */
export class S3ByteStore implements ByteStore {
  readonly limits = S3_LIMITS;

  constructor(private readonly deps: S3ByteStoreDeps) {}

  private get bucket(): S3Bucket {
    return this.deps.bucket;
  }

  /** Only the recorded state: the multipart upload starts with the first part (see multipartOf). */
  async create(id: string, options: { chunkSize: number }): Promise<void> {
    if (!(await this.deps.states.create(id, options.chunkSize))) throw new Error(`upload ${id} already has bytes`);
  }

  async write(stream: Readable, id: string, offset: number, options: WriteOptions = {}): Promise<number> {
    const staged = await this.stage(stream, id, offset, options);
    await staged.commit();
    return staged.end;
  }

  /**
   * Sends one piece (never past a part boundary) to S3: a part when it ends
   * one (or ends the upload), else a tail object. Its bytes count only once
   * `commit` records them; a piece whose body ends short stores nothing (S3
   * cannot take a part shorter than it was told), so the offset stays at what
   * is durable and the client sends those bytes again.
   */
  async stage(stream: Readable, id: string, offset: number, options: WriteOptions = {}): Promise<StagedBytes> {
    return withPiece(this.deps, stream, id, offset, options.length, (piece) => {
      const { state, n, within, source, length, completesPart, size } = piece;
      // The whole upload in this one request, and no part sent yet: one PutObject of the final object.
      const whole =
        offset === 0 && offset + length === size && !state.uploadId && completesPart && length <= state.partSize;
      const as = whole ? { whole } : completesPart ? {} : { tail: this.tailKey(id) };
      return this.send(id, state, n, within, source, length, as, options.guard);
    });
  }

  private async send(
    id: string,
    state: ByteState,
    n: number,
    within: number,
    source: AsyncIterable<Buffer>,
    length: number,
    as: { tail?: string; whole?: boolean },
    guard: WriteGate | undefined,
  ): Promise<StagedBytes> {
    const { bucket, states } = this.deps;
    const offset = (n - 1) * state.partSize + within;
    const tailKey = as.tail;
    const objectKey = as.whole ? bucket.key(id) : tailKey;
    const uploadId = objectKey ? undefined : await multipartOf(this.deps, id, state);
    const body = new PartBody(within + length, bucket.settings.requestTimeoutMs, (b) => bucket.traffic('sent', b));
    const command = objectKey
      ? new PutObjectCommand({ Bucket: bucket.name, Key: objectKey, Body: body, ContentLength: body.length })
      : new UploadPartCommand({
          Bucket: bucket.name,
          Key: bucket.key(id),
          UploadId: uploadId,
          PartNumber: n,
          Body: body,
          ContentLength: body.length,
        });
    const sending = bucket.send<UploadPartCommandOutput | PutObjectCommandOutput>(
      objectKey ? 'PutObject' : 'UploadPart',
      command,
      { signal: body.signal },
    );
    sending.catch(() => {});
    try {
      // The tail already held is the start of this part: it goes first, from S3 back to S3.
      if (within > 0 && state.tail) await body.feed(bucket.readObject({ Key: state.tail.key }));
      await body.feed(source);
      body.finish();
    } catch (error) {
      body.abort(error as Error);
      // S3 that stops taking bytes is S3 unavailable, whichever side noticed first.
      throw body.stalled ? appError('STORAGE_UNAVAILABLE') : error;
    }
    let etag: string;
    try {
      etag = ((await sending).ETag as string) ?? '';
    } catch (error) {
      if (body.endedShort && !body.stalled) return nothingStaged(offset);
      throw body.stalled ? appError('STORAGE_UNAVAILABLE') : error;
    } finally {
      body.settled();
    }
    return stagedPiece(
      states,
      id,
      {
        n,
        end: offset + length,
        bytes: body.length,
        whole: !!as.whole,
        tail: tailKey,
        partId: etag,
        etag,
        written: objectKey,
      },
      guard,
      (key) => bucket.deleteQuietly(key),
    );
  }

  seal(id: string): Promise<void> {
    return sealUpload(this.deps, id);
  }

  read(id: string): Readable {
    return Readable.from(this.bucket.readObject({ Key: this.bucket.key(id) }));
  }

  fetch: ByteStore['fetch'] = (id, conditions) => fetchObject(this.bucket, this.bucket.key(id), conditions);

  concatenate(id: string, partials: readonly PartialBytes[], recorded: (end: number) => Promise<void>) {
    return concatenateInS3(this.deps, id, partials, recorded);
  }

  async truncate(id: string, length: number): Promise<number> {
    const state = await this.deps.states.read(id);
    if (!state || state.sealed) return state ? heldBytes(state) : 0;
    const { held, dropped } = await this.deps.states.truncate(id, length, state.partSize);
    if (dropped) await this.bucket.deleteQuietly(dropped);
    return held;
  }

  remove(id: string): Promise<boolean> {
    return removeUpload(this.deps, id);
  }

  async bytesStored(id: string): Promise<number | undefined> {
    const state = await this.deps.states.read(id);
    return state && heldBytes(state);
  }

  list(): AsyncIterable<{ id: string; modifiedAt: number }> {
    return listUploads(this.bucket);
  }

  location(id: string): string {
    return `s3://${this.bucket.name}/${this.bucket.key(id)}`;
  }

  probe(): Promise<string> {
    return probeBucket(this.bucket, false);
  }

  async start(): Promise<void> {
    const problem = await probeBucket(this.bucket, true);
    if (problem !== 'ok') {
      const where = this.bucket.settings.endpoint ?? 'AWS';
      throw new Error(`S3_BUCKET: cannot write to bucket "${this.bucket.name}" at ${where}: ${problem}`);
    }
  }

  private tailKey(id: string): string {
    return `${this.bucket.key(id)}.tail-${randomUUID()}`;
  }
}
