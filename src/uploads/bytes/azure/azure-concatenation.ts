import { createHash } from 'node:crypto';
import type { PartialBytes } from '../byte-store.js';
import { AZURE_LIMITS } from './azure-limits.js';
import type { AzureByteStoreDeps } from './azure-store-deps.js';

/** Azure's largest block copied from a URL (Put Block From URL). */
const MAX_COPY_BYTES = 4000 * 1024 * 1024;

/**
 * Block n of a final upload: named by the upload and n, so that an assembly
 * resumed after a crash stages (and records) the very same blocks again.
 * Sixteen bytes, as every other block ID of the store (see newBlockId).
 */
const assemblyBlockId = (id: string, n: number): string =>
  createHash('sha256').update(`${id}\n${n}`).digest().subarray(0, 16).toString('base64');

/**
 * Assembles a final upload inside Azure from its completed partials: each
 * partial's blob is copied, in blocks of at most 4000 MiB, into the final
 * blob's block list (Put Block From URL), so no byte passes through this
 * server; each block is recorded as Azure acknowledges it, and `recorded`
 * told the bytes assembled so far (progress). The caller seals the upload,
 * which commits the block list.
 */
export async function concatenateInAzure(
  { container, states }: AzureByteStoreDeps,
  id: string,
  partials: readonly PartialBytes[],
  recorded: (end: number) => Promise<void>,
): Promise<void> {
  if (!(await states.read(id))) throw new Error(`upload ${id} has no recorded blocks`);
  const target = container.blob(container.blobName(id));
  // A large copy takes Azure a while: as long as committing a long block list.
  const timeoutMs = container.settings.requestTimeoutMs * 10;
  let n = 0;
  let end = 0;
  for (const partial of partials) {
    const source = container.sourceUrl(container.blobName(partial.id));
    for (let at = 0; at < partial.size; at += MAX_COPY_BYTES) {
      const count = Math.min(MAX_COPY_BYTES, partial.size - at);
      n += 1;
      if (n > AZURE_LIMITS.maxChunks)
        throw new Error(`a final upload of more than ${n - 1} blocks is more than Azure allows`);
      const blockId = assemblyBlockId(id, n);
      await container.call(
        'PutBlockFromURL',
        (abortSignal) => target.stageBlockFromURL(blockId, source, at, count, { abortSignal }),
        timeoutMs,
      );
      await states.recordPart(id, n, blockId, count);
      end += count;
      await recorded(end);
    }
  }
}
