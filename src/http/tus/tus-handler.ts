import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Locker, TUS_RESUMABLE } from '@tus/utils';
import type { RequestHandler } from 'express';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import type { AccessIntent } from '../../auth/authorizer.js';
import type { UploadAccess } from '../../auth/upload-access.js';
import type { Config } from '../../config/load-config.js';
import { type AppError, appError } from '../../errors/app-error.js';
import type { PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { Concatenation } from '../../uploads/concatenation/concatenation.js';
import { CHECKSUM_ALGORITHMS, parseUploadChecksum } from '../../uploads/digests/checksum.js';
import type { UploadLifecycle } from '../../uploads/lifecycle/upload-lifecycle.js';
import { isFinal } from '../../uploads/model/upload-record.js';
import type { UploadTracker } from '../../uploads/state/tracker.js';
import {
  type Caller,
  runTusRequest,
  type TusRequestInput,
  type TusRequestOutcome,
} from '../../uploads/store/request-context.js';
import type { TrackedStore } from '../../uploads/store/tracked-store.js';
import type { Drain } from '../drain.js';
import { ERROR_CODE_HEADER, errorHeaders } from '../errors.js';
import { createFinalUpload } from './final-upload.js';
import { codeOfUnthrownTusError } from './tus-errors.js';
import { sendTusError } from './tus-headers.js';
import { checkTusRequest } from './tus-rules.js';
import { createTusServer } from './tus-server.js';
import { uploadIdFromPath } from './upload-path.js';

export type TusDeps = Readonly<{
  config: Config;
  access: UploadAccess;
  preCreate: PreCreateHook | undefined;
  store: TrackedStore;
  tracker: UploadTracker;
  concatenation: Concatenation;
  lifecycle: UploadLifecycle;
  locker: Locker;
  drain: Drain;
  logger: Logger;
  metrics: Metrics;
}>;

/** What each tus method asks to do, for the authorizer (OPTIONS touches no upload). */
const INTENTS: Readonly<Record<string, AccessIntent>> = {
  POST: 'create',
  // Downloads are served by http/tus/download.ts; a GET that reaches @tus/server is checked all the same.
  GET: 'read',
  HEAD: 'resume',
  PATCH: 'resume',
  DELETE: 'delete',
};

/**
 * Express handler for the tus routes. It must be mounted before any body
 * parser: @tus/server reads the raw request stream. The request is
 * authorized and its tus inputs read first; then it is served as one tus
 * request (see runTusRequest), whose outcome the response is finished from.
 */
export function tusHandler(deps: TusDeps): RequestHandler {
  const answered = new WeakMap<Request, AppError>();
  const server = createTusServer({ ...deps, answeredWith: (request, error) => answered.set(request, error) });
  const idleMs = deps.config.server.idleTimeoutMs;

  return (req, res) => {
    const logger = req.log ?? deps.logger;
    const concat = req.headers['upload-concat'];
    const requestId = String(req.id ?? randomUUID());
    cutOffSilentBody(req, idleMs);
    // The path as @tus/server will see it (normalized by the WHATWG URL parser), so both name the same upload.
    const pathname = new URL(req.url, 'http://host').pathname;
    const uploadId = req.method === 'POST' ? undefined : uploadIdFromPath(pathname, deps.config.server.tusPath);
    const writing =
      req.method === 'PATCH' ||
      (req.method === 'POST' && req.headers['content-type'] === 'application/offset+octet-stream');
    const stopTimer = req.method === 'PATCH' ? deps.metrics.patchDuration.startTimer() : undefined;
    if (writing) deps.metrics.activeUploads.inc();
    let outcome: TusRequestOutcome | undefined;
    // A request that was not authorized changes nothing, not even the failure count of the upload it named.
    let authorized = false;
    res.once('close', () => {
      if (writing) deps.metrics.activeUploads.dec();
      stopTimer?.();
      if (authorized) countFailedBody(deps, req, res, uploadId ?? outcome?.createdId, requestId);
    });
    const handled = (async () => {
      let input: TusRequestInput;
      try {
        checkTusRequest(req, pathname, deps.config.server.tusPath);
        input = await readInput(req, deps, uploadId, logger);
        authorized = true;
      } catch (error) {
        return sendTusError(req, res, error, deps.config, logger);
      }
      if (req.method === 'POST' && typeof concat === 'string' && concat.startsWith('final;')) {
        return createFinalUpload(req, res, deps, input.caller);
      }
      await runTusRequest(input, async (served) => {
        outcome = served;
        const request = new NodeRequest({ req, res });
        let response = await server.handleWeb(request);
        if (input.method === 'POST' && response.status === 413 && served.createdId) {
          // A creation whose body overran Upload-Length was refused without a Location: nobody can
          // resume or delete what it created, so it goes (and stops counting against its owner).
          await deps.lifecycle
            .remove(served.createdId, 'terminated')
            .catch((error) =>
              logger.warn({ err: error, uploadId: served.createdId }, 'could not remove a refused creation'),
            );
        }
        res.locals.uploadId = uploadId ?? served.createdId;
        res.locals.bytesStored = served.stored;
        let error = answered.get(request);
        if (served.superseded && response.ok) {
          // Cut short by a request that took the upload over: not the success a 204 would say.
          error = appError('REQUEST_SUPERSEDED', { stored: served.stored ?? 0 });
          const headers = new Headers(response.headers);
          headers.delete('connection');
          response = new Response(error.body, { status: error.status, headers });
          // The lock is already handed over; this request is answered once its sender has sent what it was sending.
          await discardRestOfBody(req);
        }
        decorate(response, input.method, served, error);
        await send(res, response);
      });
    })();
    deps.drain.track(req, handled);
    return handled;
  };
}

/** Who sends the request (authorized before any byte is read), and what the store must know of it. */
async function readInput(
  req: IncomingMessage,
  deps: TusDeps,
  uploadId: string | undefined,
  logger: Logger,
): Promise<TusRequestInput> {
  const method = req.method ?? 'GET';
  const intent = INTENTS[method];
  const caller = intent ? await deps.access.check(req, intent, uploadId) : deps.access.anonymous;
  checkOwnerSizeLimit(req, caller);
  const checksum = req.headers['upload-checksum'];
  const length = Number(req.headers['content-length']);
  return {
    bodyLength: req.headers['content-length'] !== undefined && Number.isSafeInteger(length) ? length : undefined,
    method,
    logger,
    caller,
    partial: method === 'POST' && req.headers['upload-concat'] === 'partial',
    checksum: method === 'PATCH' && typeof checksum === 'string' ? parseUploadChecksum(checksum) : undefined,
  };
}

/**
 * The caller's own size limit, said in words before @tus/server's generic
 * "Maximum size exceeded" (which stays as the backstop: see maxSizeFor).
 * Upload-Length is on a creation, or on the PATCH that declares a deferred length.
 */
function checkOwnerSizeLimit(req: IncomingMessage, caller: Caller): void {
  const limit = caller.limits.maxSizeBytes;
  const length = Number(req.headers['upload-length']);
  if (limit > 0 && Number.isSafeInteger(length) && length > limit) {
    throw appError('OVER_SIZE_LIMIT', { length, limit });
  }
}

/** What @tus/server leaves out of its responses: the error's code and headers, and what the store read. */
function decorate(response: Response, method: string, outcome: TusRequestOutcome, error: AppError | undefined): void {
  const headers = response.headers;
  if (error) for (const [name, value] of Object.entries(errorHeaders(error))) headers.set(name, value);
  else if (response.status >= 400)
    headers.set(ERROR_CODE_HEADER, codeOfUnthrownTusError(response.status) ?? 'INTERNAL');
  if (response.status === 503) headers.set('Retry-After', '1');
  // tus: a 412 "MUST include the Tus-Version header into the response" (@tus/server's, for a missing Tus-Resumable, has none).
  if (response.status === 412) headers.set('Tus-Version', TUS_RESUMABLE);
  if (method === 'OPTIONS') {
    // The store claims @tus/server's misspelled 'concatentation' only to get past its gate for partial uploads.
    const extensions = (headers.get('tus-extension') ?? '').split(',').filter((e) => e !== 'concatentation');
    headers.set('Tus-Extension', extensions.join(','));
    headers.set('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
  }
  const record = outcome.record;
  if (method === 'HEAD' && response.status === 200 && record?.uploadConcat) {
    // tus: HEAD "against partial or final upload MUST include the Upload-Concat header and its value as received
    // in the upload creation request", and for a final upload "SHOULD NOT contain the Upload-Offset header unless
    // the concatenation has been successfully finished".
    headers.set('Upload-Concat', record.uploadConcat);
    if (isFinal(record) && record.status !== 'completed') headers.delete('Upload-Offset');
  }
}

/**
 * Sends the response, unless the connection is already gone: srvx's
 * `res.end(callback)` never calls back on a destroyed socket, which would leave
 * the handler (and a shutdown waiting for it) hanging.
 */
async function send(res: ServerResponse, response: Response): Promise<void> {
  if (res.destroyed) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  await new Promise<void>((resolve) => {
    res.once('close', resolve);
    sendNodeResponse(res, response).then(resolve, resolve);
  });
}

/**
 * failedChunks counts each PATCH (or POST with a body) that ends without
 * storing its whole body: aborted, reset, refused (409, 413, 460, ...) or failed.
 */
function countFailedBody(
  deps: TusDeps,
  req: IncomingMessage,
  res: ServerResponse,
  id: string | undefined,
  requestId: string,
) {
  try {
    const isPatch = req.method === 'PATCH';
    const hasBody =
      isPatch || (req.method === 'POST' && req.headers['content-type'] === 'application/offset+octet-stream');
    if (!id || !hasBody || (req.complete && res.statusCode === (isPatch ? 204 : 201))) return;
    deps.tracker
      .recordFailure(id, requestId)
      .catch((error) => deps.logger.warn({ err: error, uploadId: id }, 'could not count a failed request'));
  } catch (error) {
    deps.logger.error({ err: error }, 'could not inspect a finished request');
  }
}

/**
 * Reads what is left of a request's body and drops it, without buffering:
 * the web stream @tus/server read the body through is abandoned once the
 * store stopped (its own 'data' listener would only queue what is dropped).
 * Resolves when the body ends or the connection goes (the idle-read timeout
 * cuts a sender that went silent).
 */
function discardRestOfBody(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    req.removeAllListeners('data');
    req.on('data', () => {});
    req.once('end', resolve);
    req.once('close', resolve);
    req.resume();
  });
}

/**
 * The idle-read timeout: a request whose body stops arriving for `idleMs` has
 * its connection closed, and the bytes it did send are kept. Only silence
 * counts: a healthy body may stream for hours (Node's whole-request timeout is
 * off), and once the body is in, the server may take its time to answer.
 */
function cutOffSilentBody(req: IncomingMessage, idleMs: number): void {
  if (req.method !== 'PATCH' && req.method !== 'POST') return;
  const socket = req.socket;
  socket.setTimeout(idleMs);
  const stop = () => socket.setTimeout(0);
  req.once('end', stop);
  req.once('close', stop);
}
