import { appError, withHeaders } from '../../errors/app-error.js';
import type { OpenUpload } from '../../uploads/store/upload-store.js';
import { uploadLimit, uploadUrl } from '../endpoint/headers.js';
import { lockUpload, underLock } from '../endpoint/upload-lock.js';
import { appendContent, createWithContent, isComplete, refuseOverlongContent } from './content.js';
import { hasContent } from './draft-request.js';
import { metadataOf } from './draft-upload.js';
import { answer, type Exchange } from './exchange.js';
import { sendUploadResumptionSupported } from './informational.js';
import { completenessHeader } from './interop.js';
import { finalSize } from './lengths.js';

/**
 * Upload creation: POST to the endpoint, its content optional. The upload
 * exists, locked by this request, before its first byte is read, and the
 * client is told where it is at once (a 104 with Location: -06, "SHOULD
 * announce the upload resource by sending an interim response"), so a
 * connection that drops mid-creation leaves an upload to resume. A creation
 * retried with the same Idempotency-Key gets the upload the first one made.
 */
export async function create(x: Exchange): Promise<void> {
  const { req, rules, deps, input } = x;
  const { completes, declared } = x.said;
  // -02: "If the request [...] has the Upload-Complete field value set to true and a valid Content-Length header
  // field, the client attempts to upload a fixed-length resource [...] the server MUST record it" as the final size.
  const size = finalSize({ declared, contentLength: completes ? input.bodyLength : undefined });
  refuseOverlongContent(input.bodyLength, 0, size);
  const metadata = metadataOf(req);
  const max = deps.uploadStore.maxNewSize(metadata, input.caller);
  if (rules.limits) x.known.limit = uploadLimit(max);
  if (size !== undefined && size > max) throw appError('UPLOAD_TOO_LARGE');
  const created = await createWithContent(x, { size, metadata, completes }, (upload) => {
    // "The interim response [...] MUST include the Location"; from -09 it "MUST include the Upload-Limit".
    interim(x, upload, {});
    return progress(x, upload);
  });
  if (created.superseded) return endCutShort(x);
  answerCreated(x, created.upload, created.end);
}

/** Offset retrieval: HEAD (from 9 also GET) to the upload URL. It ends a transfer in flight first, so its offset is the one to append at. */
export async function retrieveOffset(x: Exchange, id: string): Promise<void> {
  const { rules, deps, res, input } = x;
  const upload = await underLock(deps.locker, id, res, (lock) => deps.uploadStore.open(id, input.caller, lock));
  const headers: Record<string, string> = {
    'Upload-Offset': String(upload.offset),
    ...completenessHeader(rules, isComplete(upload)),
    // "The server's response SHOULD include Cache-Control: no-store".
    'Cache-Control': 'no-store',
    ...limitHeader(x, upload),
  };
  // -05: "MUST include the Upload-Length header field [...] if one was recorded".
  if (rules.lengthOnOffset && upload.size !== undefined) headers['Upload-Length'] = String(upload.size);
  answer(x, 204, headers);
}

/** Upload append: PATCH to the upload URL, at the offset the server has. */
export async function append(x: Exchange, id: string): Promise<void> {
  const { res, rules, deps, input } = x;
  const { completes, declared } = x.said;
  const offset = x.said.offset as number;
  let ended: { end: number; superseded: boolean } | undefined;
  const lock = await lockUpload(deps.locker, id, res);
  try {
    let upload = await deps.uploadStore.open(id, input.caller, lock);
    x.known.current = { offset: upload.offset, complete: isComplete(upload) };
    if (rules.limits) x.known.limit = uploadLimit(upload.maxSize);
    if (x.known.current.complete) ended = appendToComplete(x, upload, offset, completes);
    // "If the offset [...] does not match the offset of the upload resource, the server MUST respond with a 409".
    if (offset !== upload.offset) throw appError('OFFSET_MISMATCH');
    if (!ended) {
      const contentLength = completes ? input.bodyLength : undefined;
      const size = finalSize({ declared, contentLength, offset, recorded: upload.size });
      refuseOverlongContent(input.bodyLength, offset, size);
      if (size !== undefined && size > upload.maxSize) throw appError('UPLOAD_TOO_LARGE');
      if (size !== undefined && upload.size === undefined) upload = await deps.uploadStore.declareLength(upload, size);
      ended = await appendContent(x, upload, offset, lock, { completes, size, onRecorded: progress(x, upload) });
    }
  } finally {
    await lock.unlock();
  }
  if (ended.superseded) return endCutShort(x);
  // -01 on: an append that does not complete the upload "MUST" be answered 201 with the completeness field saying so
  // (-02 to -05 print "set to true" there, an erratum -06 fixed); one that completes it, 2xx ("201 RECOMMENDED").
  answer(x, 201, {
    'Upload-Offset': String(ended.end),
    ...completenessHeader(rules, x.known.current?.complete ?? false),
  });
}

/**
 * A request cut short by one that took the upload over: its connection is
 * closed, as the draft has it ("The server MAY terminate any ongoing [...]
 * upload append"). Cut by this instance shutting down, it is answered 503
 * (retry elsewhere), the connection ending with the answer.
 */
function endCutShort(x: Exchange): void {
  if (!x.deps.drain.draining) return void x.res.destroy();
  throw withHeaders(appError('SHUTTING_DOWN'), { Connection: 'close' });
}

/** Upload cancellation: DELETE to the upload URL (it ends a transfer in flight first). */
export async function cancel(x: Exchange, id: string): Promise<void> {
  await underLock(x.deps.locker, id, x.res, (lock) => x.deps.uploadStore.remove(id, lock));
  // -05: "MUST respond with a 204 (No Content)"; from -09 any success status.
  answer(x, 204, {});
}

/**
 * An append to an upload that is complete. Up to 8: -04, it "MUST NOT modify
 * the upload resource and MUST respond with a 400" (completed-upload). From 9
 * (-12, which drops that problem type: "The server can choose to replay the
 * final response"): a completing append without content at the final offset
 * (a retry of the last one, whose answer was lost) gets the final response
 * again; anything else is refused, saying so (409 for another offset, 400 for
 * content past the final size).
 */
function appendToComplete(x: Exchange, upload: OpenUpload, offset: number, completes: boolean) {
  if (!x.rules.completeMeansFinal) throw appError('UPLOAD_ALREADY_COMPLETE');
  const size = upload.size as number;
  if (offset === upload.offset && completes && !hasContent(x.req)) return { end: size, superseded: false };
  if (offset === upload.offset) throw appError('BEYOND_FINAL_SIZE', { size });
  return undefined;
}

/** The 201 of a creation: where the upload is, where it stands, and its limits. */
function answerCreated(x: Exchange, upload: OpenUpload, end: number): void {
  const complete = upload.status === 'completed' || (upload.size !== undefined && end === upload.size);
  answer(x, 201, {
    Location: uploadUrl(x.req, upload.id, x.deps.config),
    'Upload-Offset': String(end),
    ...completenessHeader(x.rules, complete || (x.known.current?.complete ?? false)),
    ...limitHeader(x, upload, complete),
  });
}

/**
 * Upload-Limit for one upload (from 6): the most it may hold and, from 7, how
 * long it lives yet while unfinished (-06: `max-age`, "the remaining lifetime
 * of the upload resource in seconds").
 */
function limitHeader(x: Exchange, upload: OpenUpload, complete = isComplete(upload)): Record<string, string> {
  if (!x.rules.limits) return {};
  const seconds = Math.max(0, Math.floor((upload.record.expiresAt - Date.now()) / 1000));
  return { 'Upload-Limit': uploadLimit(upload.maxSize, x.rules.lifetimeInLimits && !complete ? seconds : undefined) };
}

/** A 104 for `upload` with `fields` (Location always: -10, "When sent, it MUST include Location"). */
function interim(x: Exchange, upload: OpenUpload, fields: Record<string, string>): void {
  sendUploadResumptionSupported(x.req, x.res, {
    'Upload-Draft-Interop-Version': String(x.rules.version),
    Location: uploadUrl(x.req, upload.id, x.deps.config),
    ...limitHeader(x, upload, false),
    ...fields,
  });
}

/** From 8 (-09): "the server SHOULD send interim responses with a 104 [...] and the Upload-Offset" as content arrives. */
function progress(x: Exchange, upload: OpenUpload): ((offset: number) => void) | undefined {
  if (!x.rules.progressInterims) return undefined;
  return (offset) => interim(x, upload, { 'Upload-Offset': String(offset) });
}
