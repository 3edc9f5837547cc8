import type { Readable } from 'node:stream';
import { appError } from '../../../errors/app-error.js';
import type { StagedBytes } from '../byte-store.js';
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
