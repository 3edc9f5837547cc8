import type { Response as ExpressResponse, Request } from 'express';
import type { Config } from '../../config/load-config.js';
import { type AppError, appError } from '../../errors/app-error.js';
import type { UploadLock, UploadLocker } from '../../uploads/coordination/upload-lock.js';
import type { UploadLifecycle } from '../../uploads/lifecycle/upload-lifecycle.js';
import { newUploadId } from '../../uploads/model/upload-id.js';
import type { TrackedStore } from '../../uploads/store/tracked-store.js';
import { metadataOfHeader } from '../../uploads/store/tus-upload.js';
import type { Appended, OpenUpload, UploadStore } from '../../uploads/store/upload-store.js';
import type { Drain } from '../drain.js';
import { settleUnreadBody, uploadUrl } from '../endpoint/headers.js';
import { claimCreation, type IdempotencyDeps } from '../endpoint/idempotent-creation.js';
import type { RequestInput, RequestOutcome } from '../endpoint/request-frame.js';
import { lockUpload } from '../endpoint/upload-lock.js';
import { tusResponseHeaders } from './tus-headers.js';
import { cutShort, progressHeaders } from './tus-procedures.js';
import type { TusServer } from './tus-server.js';

export type TusCreationDeps = IdempotencyDeps &
  Readonly<{
    config: Config;
    tusServer: TusServer;
    tusStore: TrackedStore;
    uploadStore: UploadStore;
    lifecycle: UploadLifecycle;
    locker: UploadLocker;
    drain: Drain;
  }>;

/** What a creation answers with: @tus/server's response, or one of ours; and the error @tus/server answered with, if any. */
export type Answer = Readonly<{ response: Response; error?: AppError }>;

/**
 * tus creation (POST to the endpoint), with its body if it carries one
 * (creation-with-upload: "the Client MAY include parts of the upload in the
 * initial Creation request"). @tus/server checks the creation and makes the
 * upload, handed the request without its body; the body then goes through the
 * one write path, as a PATCH's does, under the lock taken on the new upload's
 * ID before it was created (its `created` event and webhooks name it before a
 * byte is read, and a DELETE meanwhile must stop the writer).
 */
export async function createUpload(
  deps: TusCreationDeps,
  req: Request,
  res: ExpressResponse,
  input: RequestInput,
  outcome: RequestOutcome,
): Promise<Answer> {
  const id = newUploadId();
  const withBody = req.headers['content-type'] === 'application/offset+octet-stream';
  const declared = lengthSaid(req);
  refuseOverlongBody(deps, req, input, declared);
  const claim = await claimCreation(deps, req, res, input.caller, id, declared);
  if (claim.earlier) {
    // Its body is not read: drained if small, else the connection ends with the answer.
    settleUnreadBody(req, res);
    return { response: answerEarlier(deps, req, claim.earlier) };
  }
  let lock: UploadLock | undefined;
  let answered: AppError | undefined;
  let created: OpenUpload | undefined;
  let response: Response;
  let appended: Appended | undefined;
  try {
    if (withBody) lock = await lockUpload(deps.locker, id, res);
    const { creation, done } = deps.tusStore.expectCreation(id, { caller: input.caller, partial: input.partial, lock });
    try {
      response = await deps.tusServer.serve({ req, input, id, answeredWith: (e) => (answered = e) });
    } finally {
      done();
    }
    created = creation.created;
    if (!created) {
      await claim.release();
      return { response, error: answered };
    }
    outcome.createdId = id;
    if (lock && response.status === 201) appended = await appendBody(deps, req, input, created, lock);
  } catch (error) {
    if (!outcome.createdId) await claim.release();
    throw error;
  } finally {
    await lock?.unlock();
  }
  if (!appended) return { response, error: answered };
  outcome.stored = appended.end;
  if (appended.superseded) throw cutShort(deps.drain, appended.end);
  const headers = new Headers(response.headers);
  headers.delete('Upload-Expires');
  for (const [name, value] of Object.entries(progressHeaders(created, appended.end))) headers.set(name, value);
  return { response: new Response(null, { status: response.status, headers }) };
}

/**
 * A creation's body, appended at 0 once the upload exists. A body that runs
 * past the upload's length is refused (413) without a Location: nobody could
 * resume or delete what it created, so the upload goes (and stops counting
 * against its owner).
 */
async function appendBody(
  deps: TusCreationDeps,
  req: Request,
  input: RequestInput,
  created: OpenUpload,
  lock: UploadLock,
): Promise<Appended> {
  try {
    return await deps.uploadStore.append(created, 0, { source: req, length: input.bodyLength }, lock);
  } catch (error) {
    if ((error as AppError).code === 'BODY_EXCEEDS_LENGTH') {
      await deps.lifecycle
        .remove(created.id, 'terminated')
        .catch((e) => input.logger.warn({ err: e, uploadId: created.id }, 'could not remove a refused creation'));
    }
    throw error;
  }
}

/** A retried creation (same Idempotency-Key): the upload the first one made, and where it stands; its body is not read. */
function answerEarlier(deps: TusCreationDeps, req: Request, earlier: OpenUpload): Response {
  const headers = new Headers({
    ...tusResponseHeaders(req, deps.config),
    Location: uploadUrl(req, earlier.id, deps.config),
    ...(earlier.status === 'completed'
      ? { 'Upload-Offset': String(earlier.offset) }
      : progressHeaders(earlier, earlier.offset)),
  });
  return new Response(null, { status: 201, headers });
}

/** Upload-Length as the creation says it, when it is a valid one (an invalid one is refused by the tus rules). */
function lengthSaid(req: Request): number | undefined {
  const value = Number(req.headers['upload-length']);
  return req.headers['upload-length'] !== undefined && Number.isSafeInteger(value) ? value : undefined;
}

/**
 * A body whose Content-Length goes past Upload-Length (or, deferred, past the
 * most an upload may be) is refused before anything is created (413).
 */
function refuseOverlongBody(deps: TusCreationDeps, req: Request, input: RequestInput, declared: number | undefined) {
  if (req.headers['content-type'] !== 'application/offset+octet-stream' || input.bodyLength === undefined) return;
  const room = declared ?? deps.uploadStore.maxNewSize(metadataOfHeader(req.headers['upload-metadata']), input.caller);
  if (input.bodyLength > room) throw appError('BODY_EXCEEDS_LENGTH');
}
