import { Metadata } from '@tus/utils';
import type { Request, Response } from 'express';
import type { Config } from '../../config/load-config.js';
import { appError, withHeaders } from '../../errors/app-error.js';
import type { UploadLocker } from '../../uploads/coordination/upload-lock.js';
import { isFinal } from '../../uploads/model/upload-record.js';
import type { OpenUpload, UploadStore } from '../../uploads/store/upload-store.js';
import type { Drain } from '../drain.js';
import type { RequestInput, RequestOutcome } from '../endpoint/request-frame.js';
import { lockUpload, underLock } from '../endpoint/upload-lock.js';
import { tusResponseHeaders } from './tus-headers.js';

type TusProcedureDeps = Readonly<{ config: Config; uploadStore: UploadStore; locker: UploadLocker; drain: Drain }>;

/** One tus request on an existing upload, as its procedure sees it. */
export type TusExchange = Readonly<{
  req: Request;
  res: Response;
  deps: TusProcedureDeps;
  input: RequestInput;
  outcome: RequestOutcome;
}>;

/**
 * tus HEAD: where to resume. "The Server MUST always include the
 * Upload-Offset header in the response for a HEAD request, even if the offset
 * is 0"; "If the size of the upload is known, the Server MUST include the
 * Upload-Length header"; "The Server MUST prevent the client and/or proxies
 * from caching the response by adding the Cache-Control: no-store header".
 * It takes the lock, so that a transfer in flight ends first and its offset is
 * the one to append at.
 */
export async function retrieveOffset(x: TusExchange, id: string): Promise<void> {
  const { deps, res, input } = x;
  const upload = await underLock(deps.locker, id, res, (lock) => deps.uploadStore.open(id, input.caller, lock));
  const { record } = upload;
  const headers: Record<string, string> = { ...tusResponseHeaders(x.req, deps.config), 'Cache-Control': 'no-store' };
  // concatenation: HEAD "against partial or final upload MUST include the Upload-Concat header and its value as
  // received in the upload creation request", and for a final upload "SHOULD NOT contain the Upload-Offset header
  // unless the concatenation has been successfully finished".
  if (!isFinal(record) || upload.status === 'completed') headers['Upload-Offset'] = String(upload.offset);
  if (record.uploadConcat) headers['Upload-Concat'] = record.uploadConcat;
  // creation-defer-length: "the Server MUST set Upload-Defer-Length: 1 in HEAD requests" while the length is unknown.
  if (upload.size === undefined) headers['Upload-Defer-Length'] = '1';
  else headers['Upload-Length'] = String(upload.size);
  if (record.metadata) headers['Upload-Metadata'] = Metadata.stringify(record.metadata);
  res.writeHead(200, headers).end();
}

/**
 * tus PATCH: the body appended at Upload-Offset, through the one write path
 * (UploadStore.append), under the upload's lock. "The Server MUST acknowledge
 * successful PATCH requests with the 204 No Content status. It MUST include the
 * Upload-Offset header containing the new offset."
 */
export async function append(x: TusExchange, id: string): Promise<void> {
  const { req, res, deps, input, outcome } = x;
  const { uploadStore } = deps;
  // tus: "The Upload-Offset header's value MUST be equal to the current offset of the resource" (answered as @tus/server does).
  if (req.headers['upload-offset'] === undefined) throw appError('OFFSET_REQUIRED');
  const offset = Number(req.headers['upload-offset']);
  const declared = req.headers['upload-length'];
  let upload: OpenUpload;
  let appended: Awaited<ReturnType<UploadStore['append']>>;
  const lock = await lockUpload(deps.locker, id, res);
  try {
    upload = await uploadStore.open(id, input.caller, lock);
    // concatenation: "The Server MUST respond with the 403 Forbidden status to PATCH requests against a final upload URL".
    if (isFinal(upload.record)) throw appError('FINAL_UPLOAD_READ_ONLY');
    // "If the offsets do not match, the Server MUST respond with the 409 Conflict status without modifying the upload resource."
    if (offset !== upload.offset) throw appError('OFFSET_MISMATCH');
    if (declared !== undefined) upload = await declareLength(uploadStore, upload, Number(declared));
    refuseOverlongBody(upload, offset, input.bodyLength);
    const body = { source: req, length: input.bodyLength, checksum: input.checksum };
    appended = await uploadStore.append(upload, offset, body, lock);
  } finally {
    await lock.unlock();
  }
  outcome.stored = appended.end - offset;
  if (appended.superseded) throw cutShort(deps.drain, appended.end - offset);
  res.writeHead(204, { ...tusResponseHeaders(req, deps.config), ...progressHeaders(upload, appended.end) }).end();
}

/** tus termination: "the Server [...] MUST respond with the 204 No Content status" and frees what the upload held. */
export async function terminate(x: TusExchange, id: string): Promise<void> {
  const { deps, res } = x;
  await underLock(deps.locker, id, res, (lock) => deps.uploadStore.remove(id, lock));
  res.writeHead(204, tusResponseHeaders(x.req, deps.config)).end();
}

/**
 * The answer to a request cut short, by one that took the upload over or by
 * this instance shutting down (503: retry elsewhere): not the success a 204
 * would say. It is sent at once, and the connection ends with it: the rest of
 * the body is not read (its bytes would be thrown away).
 */
export const cutShort = (drain: Drain, stored: number) =>
  withHeaders(drain.draining ? appError('SHUTTING_DOWN') : appError('REQUEST_SUPERSEDED', { stored }), {
    Connection: 'close',
  });

/** Upload-Offset after a write, and Upload-Expires while the upload is unfinished (expiration: "This header MUST be included in every PATCH response if the upload is going to expire"). */
export function progressHeaders(upload: OpenUpload, end: number): Record<string, string> {
  const headers: Record<string, string> = { 'Upload-Offset': String(end) };
  if (upload.size === undefined || end < upload.size) {
    headers['Upload-Expires'] = new Date(upload.record.expiresAt).toUTCString();
  }
  return headers;
}

/**
 * creation-defer-length: the PATCH that says the length. "Once [Upload-Length]
 * is set the Client MUST NOT change it": an Upload-Length equal to the recorded
 * one is no change (a client retrying the PATCH that declared it sends it
 * again), any other is refused, as one below the bytes received.
 */
async function declareLength(uploadStore: UploadStore, upload: OpenUpload, size: number): Promise<OpenUpload> {
  if (upload.size !== undefined) {
    if (size === upload.size) return upload;
    throw appError('INVALID_LENGTH');
  }
  if (size < upload.offset) throw appError('INVALID_LENGTH');
  if (size > upload.maxSize) throw appError('UPLOAD_TOO_LARGE');
  return uploadStore.declareLength(upload, size);
}

/** A Content-Length that goes past the upload's length (or, deferred, past the most it may be) is refused before a byte is read. */
function refuseOverlongBody(upload: OpenUpload, offset: number, length: number | undefined): void {
  if (offset + (length ?? 0) > (upload.size ?? upload.maxSize)) throw appError('BODY_EXCEEDS_LENGTH');
}
