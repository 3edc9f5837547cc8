import { type Locker, TUS_RESUMABLE } from '@tus/utils';
import type { RequestHandler } from 'express';
import { NodeRequest } from 'srvx/node';
import type { UploadAccess } from '../../auth/upload-access.js';
import type { Config } from '../../config/load-config.js';
import { type AppError, appError } from '../../errors/app-error.js';
import type { PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { Concatenation } from '../../uploads/concatenation/concatenation.js';
import { CHECKSUM_ALGORITHMS } from '../../uploads/digests/checksum.js';
import type { UploadLifecycle } from '../../uploads/lifecycle/upload-lifecycle.js';
import { isFinal } from '../../uploads/model/upload-record.js';
import type { UploadTracker } from '../../uploads/state/tracker.js';
import type { TusRequestOutcome } from '../../uploads/store/request-context.js';
import type { TrackedStore } from '../../uploads/store/tracked-store.js';
import { draftProtocol } from '../draft/draft-protocol.js';
import { INTEROP_VERSION_HEADER, uploadLimit } from '../draft/interop.js';
import type { Drain } from '../drain.js';
import { ERROR_CODE_HEADER, errorHeaders } from '../errors.js';
import { createFinalUpload } from './final-upload.js';
import { discardRestOfBody, sendResponse, serveInFrame } from './request-frame.js';
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

/**
 * Express handler for the tus routes. It must be mounted before any body
 * parser: @tus/server reads the raw request stream. A request that carries
 * Upload-Draft-Interop-Version speaks the IETF draft (http/draft); any other
 * speaks tus 1.0 through @tus/server. Both are served in the same frame (see
 * serveInFrame), against the same store.
 */
export function tusHandler(deps: TusDeps): RequestHandler {
  const answered = new WeakMap<Request, AppError>();
  const server = createTusServer({ ...deps, answeredWith: (request, error) => answered.set(request, error) });
  const draft = draftProtocol(deps);

  return (req, res) => {
    // The path as @tus/server will see it (normalized by the WHATWG URL parser), so both name the same upload.
    const pathname = new URL(req.url, 'http://host').pathname;
    // OPTIONS is the same for both (it carries Upload-Limit); a GET is a download.
    const speaksDraft = req.headers[INTEROP_VERSION_HEADER] !== undefined && !['OPTIONS', 'GET'].includes(req.method);
    if (speaksDraft) return serveInFrame(deps, req, res, draft(req, res, pathname));
    const concat = req.headers['upload-concat'];
    const uploadId = req.method === 'POST' ? undefined : uploadIdFromPath(pathname, deps.config.server.tusPath);
    const writes =
      req.method === 'PATCH' ||
      (req.method === 'POST' && req.headers['content-type'] === 'application/offset+octet-stream');
    return serveInFrame(deps, req, res, {
      uploadId,
      writes,
      // The store reads the body itself, straight from the request: no web stream between the socket and the file.
      body: writes ? req : undefined,
      check: () => checkTusRequest(req, pathname, deps.config.server.tusPath),
      refuse: (error, logger) => sendTusError(req, res, error, deps.config, logger),
      serve: async (input, served) => {
        if (req.method === 'POST' && typeof concat === 'string' && concat.startsWith('final;')) {
          return createFinalUpload(req, res, deps, input.caller);
        }
        const request = new NodeRequest({ req, res });
        // @tus/server is handed none of the body, so it never wraps the request in streams of its own.
        if (writes) Object.defineProperty(request, 'body', { value: null });
        let response = await server.handleWeb(request);
        if (input.method === 'POST' && response.status === 413 && served.createdId) {
          // A creation whose body overran Upload-Length was refused without a Location: nobody can
          // resume or delete what it created, so it goes (and stops counting against its owner).
          await deps.lifecycle
            .remove(served.createdId, 'terminated')
            .catch((error) =>
              input.logger.warn({ err: error, uploadId: served.createdId }, 'could not remove a refused creation'),
            );
        }
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
        if (input.method === 'OPTIONS') {
          // Draft -05: "A server that supports the creation of a resumable upload resource under a target URI
          // MUST include the Upload-Limit header field with the corresponding limits in a response to an OPTIONS".
          response.headers.set('Upload-Limit', uploadLimit(await deps.store.maxSizeFor(undefined, null)));
        }
        await sendResponse(res, response);
      },
    });
  };
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
