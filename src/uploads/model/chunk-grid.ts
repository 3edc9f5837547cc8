/**
 * The chunk grid: pure arithmetic over an upload's byte range, no I/O.
 * Chunk i covers bytes [i * chunkSize, (i + 1) * chunkSize), the last one shorter.
 * The same rules are enforced in Redis by record-progress-2.lua.
 */
import { appError } from '../../errors/app-error.js';

/** Smallest and largest chunk size a client may ask for (Upload-Metadata `chunkSize`). */
export const CHUNK_SIZE_BOUNDS = { minBytes: 64 * 1024, maxBytes: 1024 * 1024 * 1024 } as const;

/**
 * The most chunks one upload may have. It bounds the received-chunks set in
 * Redis (and what /missing returns) to ~100k members: with the default 5 MiB
 * chunks that is uploads up to 500 GiB; a client picking 64 KiB chunks gets 6.25 GiB.
 */
const MAX_CHUNKS_PER_UPLOAD = 100_000;

/** What a byte store allows of the grid: its smallest chunk and its most chunks (S3: 5 MiB parts, 10,000 of them). */
export type GridLimits = Readonly<{ minChunkBytes: number; maxChunks: number }>;

export const DEFAULT_GRID: GridLimits = { minChunkBytes: CHUNK_SIZE_BOUNDS.minBytes, maxChunks: MAX_CHUNKS_PER_UPLOAD };

/** The largest upload the grid allows for a chunk size, within the configured maximum (0: none). */
export function maxUploadBytes(chunkSize: number, configuredMaxBytes: number, limits = DEFAULT_GRID): number {
  const byGrid = chunkSize * limits.maxChunks;
  return configuredMaxBytes > 0 ? Math.min(configuredMaxBytes, byGrid) : byGrid;
}

/** Indexes in [0, total) that are not in `received`, ascending. */
export function missingChunks(total: number, received: Iterable<number>): number[] {
  const have = new Set(received);
  const missing: number[] = [];
  for (let i = 0; i < total; i++) if (!have.has(i)) missing.push(i);
  return missing;
}

/** Ascending indexes as inclusive [first, last] runs: [0,1,2,5] → [[0,2],[5,5]]. */
export function toRanges(ascending: readonly number[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const i of ascending) {
    const last = ranges.at(-1);
    if (last && last[1] === i - 1) last[1] = i;
    else ranges.push([i, i]);
  }
  return ranges;
}

/** Percent of bytes stored, to two decimals; null while the size is unknown. */
export function percent(offset: number, size: number | undefined): number | null {
  if (size === undefined) return null;
  if (size === 0) return 100;
  return Math.floor((offset / size) * 10_000) / 100;
}

/**
 * The chunk size of a new upload: the server's, or the one the client asks for
 * in Upload-Metadata (`chunkSize`, decimal bytes) within CHUNK_SIZE_BOUNDS.
 */
export function chooseChunkSize(
  requested: string | null | undefined,
  serverDefault: number,
  limits = DEFAULT_GRID,
): number {
  if (requested === undefined) return serverDefault;
  const minBytes = Math.max(CHUNK_SIZE_BOUNDS.minBytes, limits.minChunkBytes);
  const { maxBytes } = CHUNK_SIZE_BOUNDS;
  const bytes = requested !== null && /^\d{1,16}$/.test(requested) ? Number(requested) : Number.NaN;
  if (!(bytes >= minBytes && bytes <= maxBytes)) throw appError('INVALID_CHUNK_SIZE', { minBytes, maxBytes });
  return bytes;
}
