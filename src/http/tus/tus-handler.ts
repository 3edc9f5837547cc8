import { TUS_RESUMABLE } from '@tus/utils';
import type { RequestHandler } from 'express';
import type { UploadAccess } from '../../auth/upload-access.js';
import type { Config } from '../../config/load-config.js';
import type { AppError } from '../../errors/app-error.js';
import type { PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { Concatenation } from '../../uploads/concatenation/concatenation.js';
import type { UploadLocker } from '../../uploads/coordination/upload-lock.js';
import { CHECKSUM_ALGORITHMS } from '../../uploads/digests/checksum.js';
import type { UploadLifecycle } from '../../uploads/lifecycle/upload-lifecycle.js';
import type { IdempotencyKeys } from '../../uploads/state/idempotency-keys.js';
import type { UploadTracker } from '../../uploads/state/tracker.js';
import type { TrackedStore } from '../../uploads/store/tracked-store.js';
import type { UploadStore } from '../../uploads/store/upload-store.js';
import { draftProtocol } from '../draft/draft-protocol.js';
import { speaksDraft, uploadLimit } from '../draft/interop.js';
import type { Drain } from '../drain.js';
import { ERROR_CODE_HEADER, errorHeaders } from '../errors.js';
import { createFinalUpload } from './final-upload.js';
import { type RequestInput, sendResponse, serveInFrame } from './request-frame.js';
import { createUpload } from './tus-creation.js';
import { codeOfUnthrownTusError } from './tus-errors.js';
import { sendTusError } from './tus-headers.js';
import { append, retrieveOffset, type TusExchange, terminate } from './tus-procedures.js';
import { checkTusRequest } from './tus-rules.js';
import { createTusServer, type TusServer } from './tus-server.js';
import { uploadIdFromPath } from './upload-path.js';

export type TusDeps = Readonly<{
  config: Config;
  access: UploadAccess;
  preCreate: PreCreateHook | undefined;
  tusStore: TrackedStore;
  uploadStore: UploadStore;
  idempotency: IdempotencyKeys;
  tracker: UploadTracker;
  concatenation: Concatenation;
  lifecycle: UploadLifecycle;
  locker: UploadLocker;
  drain: Drain;
  logger: Logger;
  metrics: Metrics;
}>;

/**
 * Express handler for the tus routes. A request that carries
 * Upload-Draft-Interop-Version speaks the IETF draft (http/draft); any other
 * speaks tus 1.0. Both are served in the same frame (see serveInFrame),
 * against the same UploadStore: every request on an existing upload, and every
 * body, by our own procedures (tus-procedures.ts, draft/procedures.ts);
 * OPTIONS and the creation part of a POST by @tus/server (tus-server.ts).
 */
export function tusHandler(deps: TusDeps): RequestHandler {
  const tusServer = createTusServer(deps);
  const draft = draftProtocol(deps);
  const { tusPath } = deps.config.server;

  return (req, res) => {
    // The path as a WHATWG URL parser normalizes it, so that every part of the server names the same upload.
    const pathname = new URL(req.url, 'http://host').pathname;
    if (speaksDraft(req)) return serveInFrame(deps, req, res, draft(req, res, pathname));
    const method = req.method;
    const uploadId = method === 'POST' ? undefined : uploadIdFromPath(pathname, tusPath);
    const writes =
      method === 'PATCH' || (method === 'POST' && req.headers['content-type'] === 'application/offset+octet-stream');
    return serveInFrame(deps, req, res, {
      uploadId,
      writes,
      check: () => checkTusRequest(req, pathname, tusPath),
      refuse: (error, logger) => sendTusError(req, res, error, deps.config, logger),
      serve: async (input, outcome) => {
        const x: TusExchange = { req, res, deps, input, outcome };
        try {
          if (method === 'HEAD') return await retrieveOffset(x, uploadId as string);
          if (method === 'PATCH') return await append(x, uploadId as string);
          if (method === 'DELETE') return await terminate(x, uploadId as string);
          const concat = req.headers['upload-concat'];
          if (method === 'POST' && typeof concat === 'string' && concat.startsWith('final;')) {
            return await createFinalUpload(req, res, deps, input.caller);
          }
          const { response, error } =
            method === 'POST'
              ? await createUpload({ ...deps, tusServer }, req, res, input, outcome)
              : await served(tusServer, x);
          decorate(response, method, error);
          if (method === 'OPTIONS') {
            // Draft -05: "A server that supports the creation of a resumable upload resource under a target URI
            // MUST include the Upload-Limit header field with the corresponding limits in a response to an OPTIONS".
            response.headers.set('Upload-Limit', uploadLimit(deps.uploadStore.maxNewSize(undefined, input.caller)));
          }
          await sendResponse(res, response);
        } catch (error) {
          sendTusError(req, res, error, deps.config, input.logger);
        }
      },
    });
  };
}

/** A request @tus/server serves as a whole (OPTIONS, or a method tus does not have), and the error it answered with. */
async function served(
  tusServer: TusServer,
  { req, input }: { req: TusExchange['req']; input: RequestInput },
): Promise<{ response: Response; error?: AppError }> {
  let error: AppError | undefined;
  const response = await tusServer.serve({ req, input, answeredWith: (e) => (error = e) });
  return { response, error };
}

/** What @tus/server leaves out of its responses: the error's code and headers, and the extensions as they are. */
function decorate(response: Response, method: string, error: AppError | undefined): void {
  const headers = response.headers;
  if (error) for (const [name, value] of Object.entries(errorHeaders(error))) headers.set(name, value);
  else if (response.status >= 400)
    headers.set(ERROR_CODE_HEADER, codeOfUnthrownTusError(response.status) ?? 'INTERNAL');
  if (response.status === 503) headers.set('Retry-After', '1');
  // tus: a 412 "MUST include the Tus-Version header into the response".
  if (response.status === 412) headers.set('Tus-Version', TUS_RESUMABLE);
  if (method === 'OPTIONS') {
    // The store claims @tus/server's misspelled 'concatentation' only to get past its gate for partial uploads.
    const extensions = (headers.get('tus-extension') ?? '').split(',').filter((e) => e !== 'concatentation');
    headers.set('Tus-Extension', extensions.join(','));
    headers.set('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
  }
}
