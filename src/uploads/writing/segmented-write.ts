import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import type { WriteGate } from '../bytes/byte-store.js';

/** Writes one piece at `offset`; `length` is how many bytes it will have, when the body's length is known. */
export type SegmentOptions = Readonly<{
  /** Sees every byte, in order, before it is written (e.g. to hash the body); a promise makes it wait. */
  onData?: (data: Buffer) => void | Promise<void>;
  /** How many bytes `source` will deliver, when known (the request's Content-Length). */
  length?: number;
  /** Asked before every piece of data goes on (see WriteGate): it may make the writing wait, or end it. */
  guard?: WriteGate;
}>;

export type SegmentWriter = (segment: Readable, offset: number, length: number | undefined) => Promise<number>;

/**
 * Feeds `source` to `writeSegment` in consecutive pieces that end on multiples
 * of `segmentBytes` (counted from the start of the upload), so that each time a
 * piece's write resolves, every byte before its end is stored: progress can be
 * recorded while one long request is still streaming.
 * When the source fails, the piece in progress is ended, not destroyed, so the
 * bytes that did arrive are stored; then the source's error is thrown.
 * Resolves to the offset after the last stored byte.
 */
export async function writeInSegments(
  source: Readable,
  offset: number,
  segmentBytes: number,
  writeSegment: SegmentWriter,
  options: SegmentOptions = {},
): Promise<number> {
  const { onData, guard } = options;
  const end = options.length === undefined ? undefined : offset + options.length;
  let stored = offset;
  let piece: { stream: PassThrough; written: Promise<number>; room: number } | undefined;

  const finishPiece = async () => {
    if (!piece) return;
    const { stream, written } = piece;
    piece = undefined;
    stream.end();
    stored = await written;
  };

  try {
    // destroyOnReturn: false: when a write fails, the caller learns of that
    // failure, not of the source being destroyed under it.
    for await (const data of source.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      const wait = guard?.();
      if (wait) await wait;
      const seen = onData?.(data);
      if (seen) await seen;
      let rest = data;
      while (rest.length > 0) {
        if (!piece) {
          const stream = new PassThrough({ highWaterMark: 256 * 1024 });
          const room = segmentBytes - (stored % segmentBytes);
          const written = writeSegment(stream, stored, end === undefined ? undefined : Math.min(room, end - stored));
          written.catch(() => {}); // awaited in finishPiece or raced below
          piece = { stream, written, room };
        }
        const part = rest.subarray(0, piece.room);
        rest = rest.subarray(part.length);
        piece.room -= part.length;
        // A write that fails destroys the piece with its raw error: the byte store's own answer (a full
        // disk is a 507) is what its write rejects with, so that is the error that counts.
        const { written } = piece;
        if (!piece.stream.write(part)) await Promise.race([once(piece.stream, 'drain').catch(() => written), written]);
        if (piece.room === 0) await finishPiece();
      }
    }
    await finishPiece();
  } catch (error) {
    await finishPiece().catch(() => {});
    throw error;
  }
  return stored;
}
