import { appError } from '../../../errors/app-error.js';
import { heldBytes } from '../parts/byte-state.js';
import { newBlockId } from './azure-container.js';
import type { AzureByteStoreDeps } from './azure-store-deps.js';

/**
 * The staged blocks become the one blob `<prefix><id>`: a tail left at the
 * end goes in as the last block by a copy inside Azure (Put Block From URL);
 * then Put Block List with the recorded block IDs, in order (never Get Block
 * List: Redis says which blocks are the upload's). An empty upload is an
 * empty blob. Called again after a crash, the same list commits again: Azure
 * finds the blocks among the committed ones.
 */
export async function sealUpload(deps: AzureByteStoreDeps, id: string): Promise<void> {
  const { container, states } = deps;
  const state = await states.read(id);
  if (!state) throw appError('UPLOAD_GONE');
  if (state.sealed) return;
  const name = container.blobName(id);
  // A copy of a tail (up to a chunk, 1 GiB at most) and a commit of thousands of blocks take Azure a while.
  const timeoutMs = container.settings.requestTimeoutMs * 10;
  let count = state.partCount;
  if (state.tail) {
    const { key, length, part } = state.tail;
    const blockId = newBlockId();
    await container.call(
      'PutBlockFromURL',
      (abortSignal) =>
        container.blob(name).stageBlockFromURL(blockId, container.sourceUrl(key), 0, length, { abortSignal }),
      timeoutMs,
    );
    await states.recordPart(id, part, blockId, length);
    count = part;
  }
  const blocks = await states.parts(id, count);
  const committed = await container.call(
    'PutBlockList',
    (abortSignal) =>
      container.blob(name).commitBlockList(blocks, {
        abortSignal,
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      }),
    timeoutMs,
  );
  await states.seal(id, heldBytes(state), committed.etag ?? '');
  // The one tail the state named, now a block of the blob. Tails it replaced were deleted then. One written but
  // never recorded, or left by a completion cut short after its tail became a block, stays until the upload is
  // removed (removeUpload lists every blob of it): no listing here, a round trip on every completion.
  if (state.tail) await container.removeQuietly(state.tail.key);
}
