import { type Readable, Transform } from 'node:stream';
import { appError } from '../../errors/app-error.js';
import type { ByteSink, WriteGate } from '../bytes/byte-store.js';

/** A request's body as the store reads it itself, straight from the socket's stream. */
type BodySource = Readable;

/** How one body is to be read and where it may stop. */
export type DirectBody = Readonly<{
  source: BodySource;
  /** The most bytes the upload can take from here; past them the body is refused (BODY_EXCEEDS_LENGTH). */
  room: number;
  /** Registers a listener for "hand the upload over": reading ends cleanly, what came is stored. Returns its removal. */
  onRelease?: (listener: () => void) => () => void;
  /** Aborted when no more bytes may be written at all (the lock is lost): reading ends with its reason, unwritten bytes dropped. */
  fence?: AbortSignal;
}>;

export type DirectOptions = Readonly<{
  /** The upload's chunk size: batches end on its boundaries (a chunk is counted once all of its bytes are stored). */
  chunkSize: number;
  /** Sees every byte, in order, before it is written (the digest); a promise says to wait before feeding more. */
  onData?: (data: Buffer) => void | Promise<void>;
  /** Asked before every batch (see WriteGate): it may make the writing wait (the socket is paused meanwhile), or end it. */
  guard?: WriteGate;
  /** Bytes [0, offset) are stored: after each batch but the body's last (its end the caller records itself). */
  onStored?: (offset: number) => void;
  /** The body's length, when the request said it: the batch that ends there is its last. */
  length?: number;
}>;

/** A batch is written once it holds this much (or ends on a chunk boundary, or the body pauses). */
const BATCH_BYTES = 1024 * 1024;
/** A body that stops short of a full batch is written after this long without more bytes. */
const LINGER_MS = 2;
/** Past this much waiting to be written, the socket is paused until the disk catches up. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

/**
 * Writes a request's body at `offset` through `sink`, from the body's own
 * 'data' events: no stream stage in between. Bytes are gathered into batches
 * of up to 1 MiB that end on chunk boundaries, each written with one call at
 * its position. If the body ends early (the client goes away), the bytes that
 * arrived are written before the error is thrown; if the upload is handed
 * over, reading stops and what came is written; if the lock is lost, nothing
 * more is written. Resolves to the offset after the last byte written.
 */
export function writeDirect(body: DirectBody, sink: ByteSink, offset: number, options: DirectOptions): Promise<number> {
  const { source, room, onRelease, fence } = body;
  const { chunkSize, onData, guard, onStored } = options;
  const limit = offset + room;
  const bodyEnd = Math.min(limit, options.length === undefined ? limit : offset + options.length);
  return new Promise<number>((resolve, reject) => {
    let position = offset;
    let received = offset;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let writing: Promise<void> | undefined;
    let lingering: NodeJS.Timeout | undefined;
    let done = false;
    /** Why reading ended, once it has: undefined for a clean end. */
    let outcome: { error?: unknown } | undefined;

    const detach = () => {
      source.off('data', onChunk);
      source.off('end', onEnd);
      source.off('error', onFail);
      source.off('close', onClose);
      fence?.removeEventListener('abort', onFence);
      stopListening();
      clearTimeout(lingering);
    };
    const settle = () => {
      if (done || writing || pendingBytes > 0 || !outcome) return;
      done = true;
      detach();
      if (outcome.error === undefined) resolve(position);
      else reject(outcome.error);
    };
    const fail = (error: unknown) => {
      if (done) return;
      done = true;
      detach();
      pending = [];
      pendingBytes = 0;
      // A batch being written lands before the caller hears: the caller closes the file next, and a write still
      // queued on a closed descriptor could land in whatever file reuses its number.
      if (writing) writing.then(() => reject(error));
      else reject(error);
    };
    /** Writes what is pending, up to the next chunk boundary (or all of it). */
    const flush = () => {
      clearTimeout(lingering);
      lingering = undefined;
      if (writing || pendingBytes === 0 || done) return settle();
      const boundary = (Math.floor(position / chunkSize) + 1) * chunkSize;
      const batch: Buffer[] = [];
      let length = 0;
      while (pending.length > 0 && position + length < boundary) {
        const next = pending[0] as Buffer;
        const take = Math.min(next.length, boundary - position - length);
        if (take === next.length) {
          batch.push(next);
          pending.shift();
        } else {
          batch.push(next.subarray(0, take));
          pending[0] = next.subarray(take);
        }
        length += take;
      }
      pendingBytes -= length;
      let wait: Promise<void> | undefined;
      try {
        wait = guard?.();
      } catch (error) {
        return fail(error);
      }
      // While the gate makes it wait, the batch is held (and the socket paused once enough is pending); a writer
      // that failed meanwhile writes nothing.
      const write = () => (done ? undefined : sink.write(batch, position, length));
      writing = (wait ? wait.then(write) : Promise.resolve(write())).then(
        () => {
          writing = undefined;
          // Failed meanwhile (the lock lost, say): nothing more is recorded or read.
          if (done) return;
          position += length;
          // Progress follows the bytes stored, not only whole chunks (the throttle keeps it to one record per
          // interval; the chunk counts still move per whole chunk). The last batch of a body whose length was said
          // is left to the caller, which records the end (with the completion, for the last byte). A chunked body
          // may stay open at the upload's size (to send one byte too many, say): that offset is reported, and the
          // caller does not record it again (the throttle says it was).
          const lastOfKnownLength = options.length !== undefined && position >= bodyEnd;
          if (!lastOfKnownLength && (!outcome || position % chunkSize === 0)) onStored?.(position);
          if (pendingBytes < MAX_PENDING_BYTES && source.isPaused() && !outcome) source.resume();
          // Another full batch, or the last bytes of a body that has ended, go at once; a partial one lingers.
          if (pendingBytes >= BATCH_BYTES || (pendingBytes > 0 && (outcome || position % chunkSize === 0))) flush();
          else if (pendingBytes > 0) lingering ??= setTimeout(flush, LINGER_MS);
          settle();
        },
        (error) => {
          writing = undefined;
          fail(error);
        },
      );
    };
    const onChunk = (chunk: Buffer) => {
      const over = received + chunk.length > limit;
      const data = over ? chunk.subarray(0, limit - received) : chunk;
      if (data.length > 0) take(data);
      // Past what the upload can take: the bytes that fit are written (end flushes them), then the body is refused.
      if (over) end({ error: appError('BODY_EXCEEDS_LENGTH') });
    };
    const take = (data: Buffer) => {
      received += data.length;
      const seen = onData?.(data);
      if (seen) {
        source.pause();
        seen.then(() => {
          if (!outcome && pendingBytes < MAX_PENDING_BYTES) source.resume();
        }, fail);
      }
      pending.push(data);
      pendingBytes += data.length;
      const boundary = (Math.floor((received - pendingBytes) / chunkSize) + 1) * chunkSize;
      if (pendingBytes >= BATCH_BYTES || received >= boundary || received === limit) flush();
      else lingering ??= setTimeout(flush, LINGER_MS);
      if (pendingBytes >= MAX_PENDING_BYTES) source.pause();
    };
    /** Reading ends: the rest of what came is written, then the outcome is given. */
    const end = (why: { error?: unknown }) => {
      if (outcome) return;
      outcome = why;
      source.off('data', onChunk);
      flush();
    };
    const onEnd = () => end({});
    const onFail = () => end({ error: appError('REQUEST_CANCELLED') });
    const onClose = () => {
      // 'close' without 'end': the client went away mid-body.
      if (!source.readableEnded) end({ error: appError('REQUEST_CANCELLED') });
    };
    const onFence = () => {
      outcome = { error: fence?.reason ?? appError('LOCK_LOST') };
      fail(outcome.error);
    };
    const stopListening = onRelease?.(() => end({})) ?? (() => {});
    if (fence?.aborted) return onFence();
    // The client may have gone while the request waited (for its lock, say): its 'close' is past.
    if (source.destroyed && !source.readableEnded) return fail(appError('REQUEST_CANCELLED'));
    fence?.addEventListener('abort', onFence, { once: true });
    source.on('data', onChunk);
    source.once('end', onEnd);
    source.once('error', onFail);
    source.once('close', onClose);
    if (source.readableEnded) onEnd();
  });
}

/**
 * The same body as a stream, for stores that take one (S3's parts, staged
 * bytes under a checksum): at most `room` bytes, ending cleanly when the
 * upload is handed over, failing when the lock is lost. A body that runs past
 * `room` ends the stream with the bytes that fit, and `exceeded` says so: the
 * caller stores them, then refuses the body (as writeDirect does).
 */
export function boundedStream({ source, room, onRelease, fence }: DirectBody): {
  stream: Readable;
  exceeded: () => boolean;
} {
  let left = room;
  let exceeded = false;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (chunk.length <= left) {
        left -= chunk.length;
        return done(null, chunk);
      }
      const fits = chunk.subarray(0, left);
      left = 0;
      exceeded = true;
      source.unpipe(stream);
      done(null, fits);
      stream.end();
    },
  });
  const stopListening = onRelease?.(() => {
    source.unpipe(stream);
    stream.end();
  });
  const onFence = () => {
    source.unpipe(stream);
    stream.destroy(fence?.reason ?? appError('LOCK_LOST'));
  };
  fence?.addEventListener('abort', onFence, { once: true });
  const gone = () => {
    if (!source.readableEnded && !stream.writableEnded) stream.destroy(appError('REQUEST_CANCELLED'));
  };
  if (source.destroyed) gone();
  else source.once('close', gone);
  stream.once('close', () => {
    stopListening?.();
    fence?.removeEventListener('abort', onFence);
  });
  source.pipe(stream);
  return { stream, exceeded: () => exceeded };
}
