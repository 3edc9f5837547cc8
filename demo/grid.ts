/** What GET /api/limits says this server takes (see docs/api.md#chunks). */
export type Grid = {
  chunkSizeBytes: number;
  minChunkBytes: number;
  maxChunkBytes: number;
  maxChunks: number;
  maxUploadBytes: number;
};

/** The demo's chunk grid: small enough to watch chunks arrive, within what the server takes. */
const WATCHABLE = 256 * 1024;
const MiB = 1024 * 1024;

/**
 * The chunk size the demo asks for (Upload-Metadata chunkSize): 256 KiB where the server takes it, its minimum
 * where that is more (5 MiB on S3), and large enough that a big file stays within `maxChunks`. Undefined when the
 * server did not say: its own grid is used.
 */
export function uploadGrid(grid: Grid | undefined, size: number): number | undefined {
  if (!grid) return undefined;
  const fits = Math.ceil(size / Math.max(1, grid.maxChunks));
  return Math.min(Math.max(WATCHABLE, grid.minChunkBytes, fits), grid.maxChunkBytes);
}

/** The bytes per PATCH: 1 MiB, or one whole chunk when chunks are larger (a part on S3). */
export function patchSizeFor(chunk: number | undefined): number {
  return Math.max(MiB, chunk ?? 5 * MiB);
}
