import type { Readable } from 'node:stream';
import { appError } from '../../../errors/app-error.js';
import type { StagedBytes, WriteGate } from '../byte-store.js';
import type { ByteState, ByteStates } from './byte-state.js';
import { spool } from './spool.js';

/** One write of an object store, placed on the part grid (see withPiece). */
export type Piece = Readonly<{
  state: ByteState;
  /** The part it falls in (1-based: S3's part number, Azure's block n). */
  n: number;
  /** Where in that part it starts: the length of the tail held before it (0 at a part's start). */
  within: number;
  source: AsyncIterable<Buffer>;
  length: number;
  /** Whether it ends its part (or the upload): a part of its own; else it becomes the tail. */
  completesPart: boolean;
  /** The upload's declared size (undefined while deferred). */
  size: number | undefined;
}>;

export const nothingStaged = (end: number): StagedBytes => ({
  end,
  commit: async () => {},
  discard: async () => {},
});

type PieceDeps = Readonly<{
  states: ByteStates;
  sizeOf: (id: string) => Promise<number | undefined>;
  spoolDir: string;
}>;

/**
 * Places a write at `offset` on the recorded part grid and hands it to
 * `send`: the part it is in, the tail it continues (which must be exactly
 * what is held: a write starting inside a part starts where its tail ends),
 * and whether it completes the part. A body of unknown length is spooled
 * first (a part's length must be sent before it), and the spool removed
 * once `send` is done. An empty body stages nothing.
 */
export async function withPiece(
  deps: PieceDeps,
  stream: Readable,
  id: string,
  offset: number,
  declaredLength: number | undefined,
  send: (piece: Piece) => Promise<StagedBytes>,
): Promise<StagedBytes> {
  const state = await deps.states.read(id);
  if (!state || state.sealed) throw appError('UPLOAD_GONE');
  const n = Math.floor(offset / state.partSize) + 1;
  const within = offset - (n - 1) * state.partSize;
  if (within > 0 && (state.tail?.part !== n || state.tail.length !== within)) {
    throw new Error(`upload ${id} holds no tail of ${within} bytes at part ${n}`);
  }
  const spooled = declaredLength === undefined ? await spool(stream, deps.spoolDir) : undefined;
  try {
    const length = spooled ? spooled.length : (declaredLength as number);
    if (!length) return nothingStaged(offset);
    const size = await deps.sizeOf(id);
    const completesPart = within + length >= state.partSize || offset + length === size;
    const source: AsyncIterable<Buffer> = spooled ? spooled.bytes() : stream;
    return await send({ state, n, within, source, length, completesPart, size });
  } finally {
    await spooled?.remove();
  }
}

/** A piece the store has taken (see stagedPiece). */
type Sent = Readonly<{
  n: number;
  /** The upload's offset once the piece counts. */
  end: number;
  /** The bytes the store holds for it: the tail it continued, and its own. */
  bytes: number;
  /** Stored whole: the upload is its final object at once (sealed; nothing left to assemble). */
  whole: boolean;
  /** The key of the tail object it became, if it did not complete its part. */
  tail: string | undefined;
  /** What identifies part n in the store (S3: its ETag; Azure: its block ID). */
  partId: string;
  /** The final object's ETag, when stored whole. */
  etag: string;
  /** An object written apart from the parts (the whole object, a tail), removed if the piece is discarded. */
  written: string | undefined;
}>;

/**
 * The piece as staged bytes: `commit` records it (the upload sealed, its
 * tail, or part n) and removes the tail it replaced; `discard` removes what it
 * wrote apart from the parts (a part never recorded is overwritten, or
 * dropped by the store, later).
 */
export function stagedPiece(
  states: ByteStates,
  id: string,
  sent: Sent,
  guard: WriteGate | undefined,
  remove: (key: string) => Promise<void>,
): StagedBytes {
  const recorded = sent.whole
    ? () => states.seal(id, sent.bytes, sent.etag).then(() => '')
    : sent.tail
      ? () => states.recordTail(id, sent.n, sent.tail as string, sent.bytes)
      : () => states.recordPart(id, sent.n, sent.partId, sent.bytes);
  return {
    end: sent.end,
    commit: async () => {
      // A writer that may have lost its lock (paused past its liveness) must not record what it sent.
      await guard?.();
      const replaced = await recorded();
      if (replaced) await remove(replaced);
    },
    discard: async () => {
      if (sent.written) await remove(sent.written);
    },
  };
}
