import { Readable } from 'node:stream';
import type { Lock, Upload } from '@tus/utils';
import { AppError, appError } from '../../errors/app-error.js';
import { newUploadId } from '../../uploads/model/upload-id.js';
import { uploadUrl } from '../tus/tus-headers.js';
import { answer, type Exchange } from './draft-protocol.js';
import { hasContent } from './draft-request.js';
import { metadataOf, newUpload } from './draft-upload.js';
import { sendUploadResumptionSupported } from './informational.js';
import { completenessHeader, uploadLimit } from './interop.js';
import { finalSize } from './lengths.js';

/**
 * Upload creation: POST to the endpoint, its content optional. The upload
 * exists, locked by this request, before its first byte is read, and the
 * client is told where it is at once (a 104 with Location), so a connection
 * that drops mid-creation leaves an upload to resume.
 */
export async function create(x: Exchange): Promise<void> {
  const { req, version, deps, input } = x;
  const { completes, declared } = x.said;
  // -02: "If the request [...] has the Upload-Complete field value set to true and a valid Content-Length header
  // field, the client attempts to upload a fixed-length resource [...] the server MUST record it" as the final size.
  const size = finalSize({ declared, contentLength: completes ? input.bodyLength : undefined });
  refuseOverlongContent(input.bodyLength, 0, size);
  const max = await deps.store.maxSizeFor(undefined, String(req.headers['upload-metadata'] ?? '') || null);
  if (size !== undefined && size > max) throw appError('UPLOAD_TOO_LARGE');
  const upload = await newUpload(x, newUploadId(), size, metadataOf(req));
  const content = hasContent(req);
  const limit: Record<string, string> = version >= 6 ? { 'Upload-Limit': uploadLimit(max) } : {};
  const location = uploadUrl(req, upload.id, deps.config);
  let end = 0;
  const lock = await lockUpload(x, upload.id);
  try {
    await deps.store.create(upload);
    x.known.current = { offset: 0, complete: size === 0 };
    sendUploadResumptionSupported(req, x.res, {
      'Upload-Draft-Interop-Version': String(version),
      Location: location,
      ...limit,
    });
    end = await appendContent(x, upload.id, 0, content, { completes, size });
  } finally {
    await lock.unlock();
  }
  if (x.served.superseded) return void x.res.destroy();
  const complete = x.known.current?.complete ?? false;
  answer(x, 201, {
    Location: location,
    'Upload-Offset': String(end),
    ...completenessHeader(version, complete),
    ...limit,
  });
}

/** Offset retrieval: HEAD to the upload URL. It ends a transfer in flight first, so its offset is the one to append at. */
export async function retrieveOffset(x: Exchange, id: string): Promise<void> {
  const { version, deps } = x;
  const lock = await lockUpload(x, id);
  let upload: Upload;
  try {
    upload = await deps.store.getUpload(id);
  } finally {
    await lock.unlock();
  }
  const headers: Record<string, string> = {
    'Upload-Offset': String(upload.offset),
    ...completenessHeader(version, isComplete(upload)),
    // "The server's response SHOULD include Cache-Control: no-store".
    'Cache-Control': 'no-store',
  };
  // -05: "MUST include the Upload-Length header field [...] if one was recorded"; sent from 5 on, since
  // tus-js-client's 'ietf-draft-03' (version 5) knows an upload is complete only by Upload-Length.
  if (version >= 5 && upload.size !== undefined) headers['Upload-Length'] = String(upload.size);
  if (version >= 6) headers['Upload-Limit'] = uploadLimit(await deps.store.maxSizeFor(id, null));
  answer(x, 204, headers);
}

/** Upload append: PATCH to the upload URL, at the offset the server has. */
export async function append(x: Exchange, id: string): Promise<void> {
  const { req, deps, input } = x;
  const { completes, declared } = x.said;
  const offset = x.said.offset as number;
  const content = hasContent(req);
  let end = offset;
  const lock = await lockUpload(x, id);
  try {
    const upload = await deps.store.getUpload(id);
    x.known.current = { offset: upload.offset, complete: isComplete(upload) };
    // -04: an append to a completed upload "MUST NOT modify the upload resource and MUST respond with a 400".
    if (x.known.current.complete) throw appError('UPLOAD_ALREADY_COMPLETE');
    // "If the offset [...] does not match the offset of the upload resource, the server MUST respond with a 409".
    if (offset !== upload.offset) throw appError('OFFSET_MISMATCH');
    const contentLength = completes ? input.bodyLength : undefined;
    const size = finalSize({ declared, contentLength, offset, recorded: upload.size });
    refuseOverlongContent(input.bodyLength, offset, size);
    const max = await deps.store.maxSizeFor(id, null);
    if (size !== undefined && size > max) throw appError('UPLOAD_TOO_LARGE');
    if (size !== undefined && upload.size === undefined) await deps.store.declareUploadLength(id, size);
    end = await appendContent(x, id, offset, content, { completes, size });
  } finally {
    await lock.unlock();
  }
  if (x.served.superseded) return void x.res.destroy();
  answerAppend(x, end, x.known.current?.complete ?? false);
}

/** Upload cancellation: DELETE to the upload URL (it ends a transfer in flight first). */
export async function cancel(x: Exchange, id: string): Promise<void> {
  const lock = await lockUpload(x, id);
  try {
    await x.deps.store.remove(id);
  } finally {
    await lock.unlock();
  }
  answer(x, 204, {});
}

/**
 * -01 on: an append that does not complete the upload "MUST" be answered 201 with the completeness field saying so
 * (-02 to -05 print "set to true" there, an erratum -06 fixed); one that completes it, 2xx ("201 RECOMMENDED").
 */
function answerAppend(x: Exchange, offset: number, complete: boolean): void {
  answer(x, 201, { 'Upload-Offset': String(offset), ...completenessHeader(x.version, complete) });
}

/**
 * -05: "The server MUST prevent that the offset exceeds the upload's final size". A Content-Length that says so
 * is refused before a byte is read; a chunked body that goes past it is stopped there (see appendContent).
 */
function refuseOverlongContent(contentLength: number | undefined, offset: number, size: number | undefined): void {
  if (size !== undefined && contentLength !== undefined && offset + contentLength > size) {
    throw appError('BEYOND_FINAL_SIZE', { size });
  }
}

type Appending = Readonly<{ completes: boolean; size: number | undefined }>;

/**
 * Stores a request's content at `offset` and, when the request completes the
 * upload, completes it. The store reads the content itself, straight from the
 * request (as for tus: see TusRequestInput.body), up to the final size or the
 * most an upload may be. The content may not go past the final size (-05:
 * "MUST stop appending bytes to the upload once the offset reaches the final
 * size and reject the request with a 400"); what came before that is kept.
 */
async function appendContent(
  x: Exchange,
  id: string,
  offset: number,
  content: boolean,
  { completes, size }: Appending,
): Promise<number> {
  const { store } = x.deps;
  let end = offset;
  // A completing request with no content still goes through the store: it finishes an upload whose last byte is in.
  if (content || (completes && !x.known.current?.complete)) {
    try {
      end = await store.write(Readable.from([]), id, offset);
    } catch (error) {
      // The error's answer says where the upload now stands.
      const upload = await store.getUpload(id).catch(() => undefined);
      if (upload) x.known.current = { offset: upload.offset, complete: isComplete(upload) };
      // Past the room it had: the bytes that fit are stored (and complete the upload when they reach its size).
      if (error instanceof AppError && error.code === 'BODY_EXCEEDS_LENGTH') {
        throw size === undefined ? appError('UPLOAD_TOO_LARGE') : appError('BEYOND_FINAL_SIZE', { size });
      }
      throw error;
    }
  }
  x.known.current = { offset: end, complete: size !== undefined && end === size };
  if (!completes || x.served.superseded) return end;
  if (size === undefined) {
    // A chunked body that completes an upload of unknown length: its length is what arrived.
    await store.declareUploadLength(id, end);
    await store.write(Readable.from([]), id, end);
  } else if (end < size) {
    throw appError('LENGTH_INCONSISTENT', {
      detail: `This request says it completes the upload, but its final size is ${size} bytes and ${end} are stored`,
    });
  }
  x.known.current = { offset: end, complete: true };
  return end;
}

/**
 * Takes the upload's lock. Another request that asks for it while this one
 * holds it ends this one's transfer (the draft: "The server MAY terminate any
 * ongoing [...] upload append for the same upload URL"): the store stops
 * reading, and the bytes that came are kept and recorded before the lock passes.
 */
async function lockUpload(x: Exchange, id: string): Promise<Lock> {
  const lock = x.deps.locker.newLock(id);
  const gone = new AbortController();
  x.res.once('close', () => gone.abort());
  await lock.lock(gone.signal, () => {});
  return lock;
}

const isComplete = (upload: Upload): boolean => upload.size !== undefined && upload.offset === upload.size;
