import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, appError } from '../../errors/app-error.js';

import type { ByteStore, StagedBytes, WriteGate, WriteOptions } from '../bytes/byte-store.js';
import { BackgroundDigests, type DigestHandle } from '../digests/background-digest.js';
import { type ChecksumExpectation, checksumHash } from '../digests/checksum.js';
import type { UploadEvents } from '../events/upload-events.js';
import type { UploadLifecycle } from '../lifecycle/upload-lifecycle.js';
import type { ProgressState, UploadTracker } from '../state/tracker.js';
import { boundedStream, type DirectBody, writeDirect } from './direct-write.js';
import { ProgressThrottle } from './progress-throttle.js';
import { writeInSegments } from './segmented-write.js';

export type WriterDeps = Readonly<{
  bytes: ByteStore;
  tracker: UploadTracker;
  lifecycle: UploadLifecycle;
  /** Progress is recorded at most this often while a body streams. */
  progressIntervalMs: number;
  /** Whether a completed upload gets its SHA-256 recorded. */
  digest: boolean;
  onLateError: (error: unknown) => void;
  events: UploadEvents;
}>;

/** A request's body, and how it is to be written. */
export type BodyOptions = Readonly<{
  /** The body, read straight from the request, and where its reading may stop. */
  source: DirectBody;
  /** The upload's chunk size: the body is stored in pieces ending on chunk boundaries. */
  chunkSize: number;
  /** The body's length, when the request said it. */
  length?: number;
  /** Asked before every batch is written or recorded (see WriteGate): the lock, and the upload still there. */
  guard?: WriteGate;
  /** The upload's length, when known: a body that ends there completes it. */
  size?: number;
  /** Hears each offset recorded while the body streams (the draft's progress interim responses). */
  onRecorded?: (offset: number) => void;
}>;

/** The SHA-256 of bytes [0, offset) of an upload, as they passed through this process (computed off the main thread). */
type RunningDigest = { handle: DigestHandle; offset: number };
const RUNNING_DIGESTS = 10_000;

/**
 * Writes the body of one request into an upload and records it, and finishes
 * an upload once its last byte is stored.
 */
export class UploadWriter {
  private readonly finalizing = new Map<string, Promise<void>>();
  /** Saves reading a whole file again to hash it when it completes; lost or stale ones just mean that re-read. */
  private readonly digests = new Map<string, RunningDigest>();
  private readonly background = new BackgroundDigests();

  constructor(private readonly deps: WriterDeps) {}

  async close(): Promise<void> {
    await this.background.close();
  }

  /**
   * Appends `body` at `offset`. Bytes stored are recorded as they arrive (at
   * most once per progress interval; on S3 as parts are stored) so that a
   * dashboard sees a long PATCH advance. If the request fails, what was stored is
   * recorded before the error is rethrown.
   */
  async write(id: string, offset: number, body: BodyOptions): Promise<number> {
    const { bytes } = this.deps;
    const digest = this.takeDigest(id, offset);
    // Set when recording progress finds the upload gone (expired, removed, its record lost): the writer stops at
    // its next batch, so no more bytes go into a file no record names.
    let gone: unknown;
    const onLateError = (error: unknown) => {
      if (error instanceof AppError && error.code === 'UPLOAD_GONE') gone = error;
      else this.deps.onLateError(error);
    };
    const guard: WriteGate = () => {
      if (gone) throw gone;
      return body.guard?.();
    };
    const throttle = new ProgressThrottle(
      this.deps.progressIntervalMs,
      async (at) => {
        const progress = await this.recordProgress(id, at);
        body.onRecorded?.(at);
        return progress;
      },
      onLateError,
    );
    let end: number;
    try {
      const onData = digest ? (data: Buffer) => digest.handle.update(data) : undefined;
      if (bytes.open) {
        // Straight from the request to the file: no stream stage in between.
        const sink = await bytes.open(id);
        try {
          end = await writeDirect(body.source, sink, offset, {
            chunkSize: body.chunkSize,
            length: body.length,
            onData,
            guard,
            onStored: (at) => void throttle.stored(at).catch(onLateError),
          });
        } finally {
          await sink.close();
        }
      } else {
        end = await inSegments(offset, { ...body, guard }, onData, async (segment, at, options) => {
          const stored = await bytes.write(segment, id, at, options);
          await throttle.stored(stored);
          return stored;
        });
      }
    } catch (error) {
      digest?.handle.drop();
      await throttle.flush();
      // If Redis fails here too, the next HEAD reconciles from the disk.
      const stored = await bytes.bytesStored(id).catch(() => undefined);
      if (stored !== undefined) {
        const progress = await this.deps.tracker.recordProgress(id, stored).catch(() => undefined);
        if (stored > offset) void this.deps.events.emit({ type: 'received', id, bytes: stored - offset });
        // Every byte is in although the request failed (a chunked body that ran past Upload-Length): finish it.
        if (progress?.status === 'assembling') await this.finalize(id).catch(() => {});
      }
      throw error;
    }
    await throttle.flush();
    if (end > offset) void this.deps.events.emit({ type: 'received', id, bytes: end - offset });
    if (digest) this.keepDigest(id, { handle: digest.handle, offset: end });
    if (end === body.size && end > offset) {
      // The last byte is in: its progress is recorded with the completion, in one round trip.
      void this.deps.events.emit({ type: 'progress', id });
      await this.finalize(id, end);
      return end;
    }
    // A body that ended on a chunk boundary the throttle just recorded is not recorded twice.
    const progress = (await throttle.recorded(end)) ?? (await this.recordProgress(id, end));
    if (progress.status === 'assembling') await this.finalize(id);
    return end;
  }

  /**
   * tus checksum extension: "Once the entire request has been received, the
   * Server MUST verify the uploaded chunk against the provided checksum [...]
   * the uploaded chunk MUST be discarded, and the upload and its offset MUST
   * NOT be updated" on a mismatch. The body is hashed as it streams to the
   * byte store, staged there, and committed and recorded only once verified;
   * otherwise it is taken back. While it is unverified the record says so, so
   * that a crash in between discards it too.
   */
  async writeVerified(id: string, offset: number, body: BodyOptions, expected: ChecksumExpectation): Promise<number> {
    const { bytes, tracker } = this.deps;
    if (!(await tracker.markUnverified(id, offset))) throw appError('UPLOAD_GONE');
    const hash = checksumHash(expected);
    let end: number | undefined;
    let failure: unknown;
    const staged: StagedBytes[] = [];
    try {
      const onData = (data: Buffer) => {
        hash.update(data);
      };
      end = await inSegments(offset, body, onData, async (segment, at, options) => {
        const piece = await bytes.stage(segment, id, at, options);
        staged.push(piece);
        return piece.end;
      });
    } catch (error) {
      failure = error;
    }
    if (failure === undefined && hash.digest().equals(expected.digest)) {
      this.forget(id);
      for (const piece of staged) {
        await body.guard?.();
        await piece.commit();
      }
      const progress = await this.recordProgress(id, end as number);
      if ((end as number) > offset)
        void this.deps.events.emit({ type: 'received', id, bytes: (end as number) - offset });
      await tracker.clearUnverified(id);
      if (progress.status === 'assembling') await this.finalize(id);
      return end as number;
    }
    for (const piece of staged.reverse()) await piece.discard();
    await bytes.truncate(id, offset);
    await tracker.clearUnverified(id);
    // A body that did not arrive whole cannot match its checksum either; its own error says more.
    throw failure ?? appError('CHECKSUM_MISMATCH');
  }

  /** Records a request that stored nothing, finalizing when that completes the upload (an empty upload). */
  async settle(id: string, offset: number): Promise<void> {
    const progress = await this.recordProgress(id, offset);
    if (progress.status === 'assembling') await this.finalize(id);
  }

  /** The running digest of an upload if this process saw all its bytes before `offset`; a new one at 0. */
  private takeDigest(id: string, offset: number): RunningDigest | undefined {
    if (!this.deps.digest) return undefined;
    const digest = this.digests.get(id);
    this.digests.delete(id);
    if (digest?.offset === offset) return digest;
    digest?.handle.drop();
    return offset === 0 ? { handle: this.background.start(), offset: 0 } : undefined;
  }

  private keepDigest(id: string, digest: RunningDigest): void {
    if (this.digests.size >= RUNNING_DIGESTS) {
      const oldest = this.digests.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    this.digests.set(id, digest);
  }

  /** Forgets what this process knew of an upload (it was removed, or its bytes changed elsewhere). */
  forget(id: string): void {
    this.digests.get(id)?.handle.drop();
    this.digests.delete(id);
  }

  /**
   * assembling → completed: the whole file's SHA-256 is recorded (from the
   * running digest when this process saw every byte, else by reading the file).
   * `stored`: the write that stored the last byte, whose progress is recorded
   * with the completion. One finalization per upload at a time in this
   * process; a second caller waits for the first.
   */
  finalize(id: string, stored?: number): Promise<void> {
    let running = this.finalizing.get(id);
    if (!running) {
      running = this.deps.lifecycle
        .finish(id, 'finalization', () => this.digestOf(id, stored), stored)
        .finally(() => this.finalizing.delete(id));
      this.finalizing.set(id, running);
    }
    return running;
  }

  private async recordProgress(id: string, offset: number): Promise<ProgressState> {
    const progress = await this.deps.tracker.recordProgress(id, offset);
    // Deleted or expired while this request was writing.
    if (!progress) throw appError('UPLOAD_GONE');
    void this.deps.events.emit({ type: 'progress', id });
    return progress;
  }

  /**
   * The SHA-256 of the whole upload; undefined when no digest is recorded
   * (UPLOAD_DIGEST=none). `known`: the bytes stored, when this request just wrote the last of them.
   */
  private async digestOf(id: string, known?: number): Promise<string | undefined> {
    // Every byte is in: the byte store puts them in their final form first (S3: completes the multipart upload).
    await this.deps.bytes.seal(id);
    const running = this.digests.get(id);
    this.digests.delete(id);
    if (!this.deps.digest) {
      running?.handle.drop();
      return undefined;
    }
    const stored = running && (known ?? (await this.deps.bytes.bytesStored(id)));
    if (running && running.offset === stored) return running.handle.digest();
    running?.handle.drop();
    const hash = createHash('sha256');
    await pipeline(this.deps.bytes.read(id), hash);
    return hash.digest('hex');
  }
}

/**
 * The body in pieces ending on chunk boundaries, each given to `writePiece`
 * with what the byte store must know of it (its length, when known, and the guard).
 */
async function inSegments(
  offset: number,
  body: BodyOptions,
  onData: ((data: Buffer) => void | Promise<void>) | undefined,
  writePiece: (segment: Readable, at: number, options: WriteOptions) => Promise<number>,
): Promise<number> {
  const { guard, length } = body;
  const bounded = boundedStream(body.source);
  const end = await writeInSegments(
    bounded.stream,
    offset,
    body.chunkSize,
    (segment, at, pieceLength) => writePiece(segment, at, { length: pieceLength, guard }),
    { onData, length, guard },
  );
  // Past the room it had: the bytes that fit are stored, then the body is refused.
  if (bounded.exceeded()) throw appError('BODY_EXCEEDS_LENGTH');
  return end;
}
