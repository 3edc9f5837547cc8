import { TUS_RESUMABLE } from '@tus/utils';
import type { Response as ExpressResponse, Request } from 'express';
import type { Config } from '../../config/load-config.js';
import type { AppError } from '../../errors/app-error.js';
import type { PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { Logger } from '../../log.js';
import type { Concatenation } from '../../uploads/concatenation/concatenation.js';
import type { UploadLocker } from '../../uploads/coordination/upload-lock.js';
import { CHECKSUM_ALGORITHMS } from '../../uploads/digests/checksum.js';
import type { UploadLifecycle } from '../../uploads/lifecycle/upload-lifecycle.js';
import type { IdempotencyKeys } from '../../uploads/state/idempotency-keys.js';
import type { TrackedStore } from '../../uploads/store/tracked-store.js';
import type { UploadStore } from '../../uploads/store/upload-store.js';
import type { Drain } from '../drain.js';
import { uploadLimit } from '../endpoint/headers.js';
import { type Protocol, type RequestInput, sendResponse } from '../endpoint/request-frame.js';
import { uploadIdFromPath } from '../endpoint/upload-path.js';
import { ERROR_CODE_HEADER, errorHeaders } from '../errors.js';
import { createFinalUpload } from './final-upload.js';
import { createUpload } from './tus-creation.js';
import { sendTusError } from './tus-headers.js';
import { append, retrieveOffset, type TusExchange, terminate } from './tus-procedures.js';
import { checkTusRequest } from './tus-rules.js';
import { createTusServer, type TusServer } from './tus-server.js';

export type TusDeps = Readonly<{
  config: Config;
  preCreate: PreCreateHook | undefined;
  tusStore: TrackedStore;
  uploadStore: UploadStore;
  idempotency: IdempotencyKeys;
  concatenation: Concatenation;
  lifecycle: UploadLifecycle;
  locker: UploadLocker;
  drain: Drain;
  logger: Logger;
}>;

/**
 * tus 1.0 on the upload endpoint. Every request on an existing upload, and
 * every body, is served by our own procedures (tus-procedures.ts) through the
 * UploadStore; OPTIONS and the creation part of a POST by @tus/server
 * (tus-server.ts); final uploads by concatenation (final-upload.ts).
 */
export function tusProtocol(deps: TusDeps) {
  const tusServer = createTusServer(deps);
  const { tusPath } = deps.config.server;
  return (req: Request, res: ExpressResponse, pathname: string): Protocol => {
    const method = req.method;
    const uploadId = method === 'POST' ? undefined : uploadIdFromPath(pathname, tusPath);
    const writes =
      method === 'PATCH' || (method === 'POST' && req.headers['content-type'] === 'application/offset+octet-stream');
    return {
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
    };
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

/**
 * What @tus/server answers by itself, without throwing (so without
 * onResponseError): 412 without Tus-Resumable, 400 for malformed tus headers,
 * 404 for a method it has no handler for.
 */
function codeOfUnthrownTusError(status: number): AppError['code'] | undefined {
  if (status === 412) return 'TUS_RESUMABLE_REQUIRED';
  if (status === 400) return 'INVALID_HEADERS';
  if (status === 404) return 'NOT_FOUND';
  return undefined;
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
