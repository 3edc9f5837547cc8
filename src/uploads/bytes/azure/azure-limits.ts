import { CHUNK_SIZE_BOUNDS } from '../../model/chunk-grid.js';

/**
 * With STORAGE=azure a chunk is a block of the upload's block blob. Azure
 * takes blocks of any size (up to 4000 MiB), so the grid's own smallest chunk
 * holds; a blob commits at most 50,000 blocks, one per chunk.
 */
export const AZURE_LIMITS = { minChunkBytes: CHUNK_SIZE_BOUNDS.minBytes, maxChunks: 50_000 } as const;

/** Azure discards a blob's uncommitted blocks a week after its last Put Block: no unfinished upload may live longer. */
export const AZURE_UNCOMMITTED_BLOCKS_KEPT_MS = 7 * 24 * 3600 * 1000;
