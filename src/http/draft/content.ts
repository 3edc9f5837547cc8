import { AppError, appError } from '../../errors/app-error.js';
import type { UploadLock } from '../../uploads/coordination/upload-lock.js';
import { newUploadId } from '../../uploads/model/upload-id.js';
import type { OpenUpload } from '../../uploads/store/upload-store.js';
import { claimCreation } from '../endpoint/idempotent-creation.js';
import { lockUpload } from '../endpoint/upload-lock.js';
import { hasContent } from './draft-request.js';
import { metadataAfterHook, type UploadMetadata } from './draft-upload.js';
import type { Exchange } from './exchange.js';

/** What stores a request's content needs of the exchange (an ordinary creation has no version's rules). */
export type ContentExchange = Pick<Exchange, 'req' | 'res' | 'deps' | 'input' | 'outcome' | 'known'>;

/** What a creation made, and where its content ended. */
export type Created = Readonly<{ upload: OpenUpload; end: number; superseded: boolean }>;

/**
 * A draft creation (of a version this server speaks, or a whole-file one of
 * another): a new upload created under its lock, once the pre-create hook has
 * seen it, and the request's content appended. `announce` hears the upload as
 * soon as it exists (the 104), and may return a listener of the offsets
 * recorded while the content arrives. A creation sent again with the same
 * Idempotency-Key gets the upload the first one made, as it stands.
 */
export async function createWithContent(
  x: ContentExchange,
  { size, metadata, completes }: { size: number | undefined; metadata: UploadMetadata | undefined; completes: boolean },
  announce: (upload: OpenUpload) => ((offset: number) => void) | undefined,
): Promise<Created> {
  const { req, res, deps, input, outcome } = x;
  const id = newUploadId();
  const claim = await claimCreation(deps, req, res, input.caller, id, size);
  if (claim.earlier) return { upload: claim.earlier, end: claim.earlier.offset, superseded: false };
  try {
    const hooked = await metadataAfterHook(x, id, size, metadata);
    const lock = await lockUpload(deps.locker, id, res);
    try {
      const creation = { id, size, metadata: hooked, caller: input.caller, partial: false };
      const upload = await deps.uploadStore.create(creation, lock);
      outcome.createdId = id;
      x.known.current = { offset: 0, complete: size === 0 };
      const onRecorded = announce(upload);
      return { upload, ...(await appendContent(x, upload, 0, lock, { completes, size, onRecorded })) };
    } finally {
      await lock.unlock();
    }
  } catch (error) {
    if (!outcome.createdId) await claim.release();
    throw error;
  }
}

type Appending = Readonly<{
  /** Whether the request says its content ends the upload. */
  completes: boolean;
  /** The upload's final size, when known. */
  size: number | undefined;
  /** Hears each offset recorded while the content streams (progress interim responses). */
  onRecorded?: (offset: number) => void;
}>;

export const isComplete = (upload: OpenUpload): boolean => upload.size !== undefined && upload.offset === upload.size;

/**
 * Stores a request's content at `offset` through the one write path
 * (UploadStore.append), under `lock`, and, when the request ends the upload,
 * completes it. The content may not go past the final size (-05: "MUST stop
 * appending bytes to the upload once the offset reaches the final size and
 * reject the request with a 400"); what came before that is kept. Returns
 * where the upload ends, and whether another request took it over meanwhile.
 */
export async function appendContent(
  x: ContentExchange,
  upload: OpenUpload,
  offset: number,
  lock: UploadLock,
  { completes, size, onRecorded }: Appending,
): Promise<{ end: number; superseded: boolean }> {
  const { req, input, outcome } = x;
  const { uploadStore } = x.deps;
  let end = offset;
  let superseded = false;
  if (hasContent(req)) {
    try {
      const body = { source: req, length: input.bodyLength, onRecorded };
      ({ end, superseded } = await uploadStore.append(upload, offset, body, lock));
      outcome.stored = end - offset;
    } catch (error) {
      // The error's answer says where the upload now stands.
      const now = await uploadStore.open(upload.id, input.caller, lock).catch(() => undefined);
      if (now) x.known.current = { offset: now.offset, complete: isComplete(now) };
      // Past the room it had: the bytes that fit are stored (and complete the upload when they reach its size).
      if (error instanceof AppError && error.code === 'BODY_EXCEEDS_LENGTH') {
        throw size === undefined ? appError('UPLOAD_TOO_LARGE') : appError('BEYOND_FINAL_SIZE', { size });
      }
      throw error;
    }
  } else if (completes && size !== undefined && upload.status !== 'completed') {
    // A completing request with no content finishes an upload whose last byte is in (its length just declared).
    await uploadStore.settle(upload, offset);
  }
  x.known.current = { offset: end, complete: size !== undefined && end === size };
  if (!completes || superseded) return { end, superseded };
  if (size === undefined) {
    // Content that completes an upload of unknown length: its length is what arrived.
    await uploadStore.settle(await uploadStore.declareLength(upload, end), end);
  } else if (end < size) {
    throw appError('LENGTH_INCONSISTENT', {
      detail: `This request says it completes the upload, but its final size is ${size} bytes and ${end} are stored`,
    });
  }
  x.known.current = { offset: end, complete: true };
  return { end, superseded };
}

/**
 * -05: "The server MUST prevent that the offset exceeds the upload's final size". A Content-Length that says so
 * is refused before a byte is read; a chunked body that goes past it is stopped there (see appendContent).
 */
export function refuseOverlongContent(contentLength: number | undefined, offset: number, size: number | undefined) {
  if (size !== undefined && contentLength !== undefined && offset + contentLength > size) {
    throw appError('BEYOND_FINAL_SIZE', { size });
  }
}
