import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from '@tus/server';
import type { Locker } from '@tus/utils';
import type { RequestHandler } from 'express';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import type { AccessIntent, Caller } from '../../auth/authorizer.js';
import type { UploadAccess } from '../../auth/upload-access.js';
import { allowsAnyOrigin, type Config } from '../../config/load-config.js';
import { AppError, invalidUploadId } from '../../errors.js';
import { metadataFromPreCreate, type PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { Concatenation } from '../../uploads/concatenation/concatenation.js';
import { CHECKSUM_ALGORITHMS, parseUploadChecksum } from '../../uploads/digests/checksum.js';
import { newUploadId } from '../../uploads/model/upload-id.js';
import { isFinal } from '../../uploads/model/upload-record.js';
import type { UploadTracker } from '../../uploads/state/tracker.js';
import { type RequestScope, requestScope } from '../../uploads/store/request-context.js';
import type { TrackedStore } from '../../uploads/store/tracked-store.js';
import type { Drain } from '../drain.js';
import { isTusError, type TusError, toAppError } from '../errors.js';
import { createFinalUpload } from './final-upload.js';
import { sendTusError } from './tus-headers.js';
import { uploadIdFromPath } from './upload-path.js';

export type TusDeps = Readonly<{
  config: Config;
  access: UploadAccess;
  preCreate: PreCreateHook | undefined;
  store: TrackedStore;
  tracker: UploadTracker;
  concatenation: Concatenation;
  locker: Locker;
  drain: Drain;
  logger: Logger;
  metrics: Metrics;
}>;

function createTusServer({ config, store, locker, logger, preCreate }: TusDeps): Server {
  return new Server({
    path: config.tusPath,
    datastore: store,
    locker,
    maxSize: (req, id) =>
      store.maxSizeFor(req.method === 'POST' ? undefined : (id ?? undefined), req.headers.get('upload-metadata')),
    relativeLocation: config.relativeLocation,
    respectForwardedHeaders: config.trustProxy,
    allowedOrigins: allowsAnyOrigin(config) ? undefined : [...config.corsOrigins],
    allowedHeaders: ['Upload-Checksum'],
    namingFunction: () => {
      const id = newUploadId();
      const scope = requestScope.getStore();
      if (scope) scope.createdId = id;
      return id;
    },
    getFileIdFromRequest: (req) => uploadIdFromPath(new URL(req.url).pathname, config.tusPath),
    onIncomingRequest: async (req) => {
      const checksum = req.headers.get('upload-checksum');
      const scope = requestScope.getStore();
      if (req.method === 'PATCH' && checksum !== null && scope) scope.checksum = parseUploadChecksum(checksum);
    },
    onUploadCreate: async (req, upload) => {
      if (!preCreate) return {};
      const scope = requestScope.getStore();
      const request = {
        upload: {
          id: upload.id,
          size: upload.size,
          metadata: upload.metadata ?? {},
          owner: scope?.caller?.owner,
          concat: scope?.partial ? ('partial' as const) : undefined,
        },
        method: req.method,
        url: new URL(req.url).pathname,
        headers: Object.fromEntries(req.headers),
      };
      return { metadata: await metadataFromPreCreate(preCreate, request, upload.metadata) };
    },
    onResponseError: (req, error) => {
      const pathname = new URL(req.url).pathname;
      // A malformed ID is a client error of its own, not an unknown upload.
      if ((error as { status_code?: number }).status_code === 404 && pathname.startsWith(`${config.tusPath}/`)) {
        if (!uploadIdFromPath(pathname, config.tusPath)) return tusError(invalidUploadId());
      }
      if (isTusError(error)) return error;
      return tusError(toAppError(error, requestScope.getStore()?.logger ?? logger));
    },
  });
}

const tusError = (e: TusError): TusError => ({ status_code: e.status_code, body: e.body });

/** What each tus method asks to do, for the authorizer (OPTIONS touches no upload). */
const INTENTS: Readonly<Record<string, AccessIntent>> = {
  POST: 'create',
  // Downloads are served by http/download.ts; a GET that reaches @tus/server is checked all the same.
  GET: 'read',
  HEAD: 'resume',
  PATCH: 'resume',
  DELETE: 'delete',
};

/**
 * Express handler for the tus routes. It must be mounted before any body
 * parser: @tus/server reads the raw request stream. Each request runs in its
 * own RequestScope, through which the store learns what the DataStore
 * interface does not carry (checksum, partial upload) and tells what it read.
 */
export function tusHandler(deps: TusDeps): RequestHandler {
  const server = createTusServer(deps);
  const idleMs = deps.config.idleTimeoutSeconds * 1000;

  return (req, res) => {
    const concat = req.headers['upload-concat'];
    const scope: RequestScope = {
      method: req.method,
      partial: req.method === 'POST' && concat === 'partial',
      logger: req.log,
    };
    const requestId = String(req.id ?? randomUUID());
    cutOffSilentBody(req, idleMs);
    // The path as @tus/server will see it (normalized by the WHATWG URL parser), so both name the same upload.
    const pathname = new URL(req.url, 'http://host').pathname;
    const uploadId = req.method === 'POST' ? undefined : uploadIdFromPath(pathname, deps.config.tusPath);
    const writing =
      req.method === 'PATCH' ||
      (req.method === 'POST' && req.headers['content-type'] === 'application/offset+octet-stream');
    const stopTimer = req.method === 'PATCH' ? deps.metrics.patchDuration.startTimer() : undefined;
    if (writing) deps.metrics.activeUploads.inc();
    res.once('close', () => {
      if (writing) deps.metrics.activeUploads.dec();
      stopTimer?.();
      countFailedBody(deps, req, res, uploadId ?? scope.createdId, requestId);
    });
    const handled = requestScope.run(scope, async () => {
      const intent = INTENTS[req.method];
      if (intent) {
        try {
          scope.caller = await deps.access.check(req, intent, uploadId);
          checkOwnerSizeLimit(req, scope.caller);
        } catch (error) {
          return sendTusError(req, res, error, deps.config, req.log ?? deps.logger);
        }
      }
      if (req.method === 'POST' && typeof concat === 'string' && concat.startsWith('final;')) {
        return createFinalUpload(req, res, deps);
      }
      const response = await server.handleWeb(new NodeRequest({ req, res }));
      res.locals.uploadId = uploadId ?? scope.createdId;
      res.locals.bytesStored = scope.stored;
      decorate(response, scope);
      await send(res, response);
    });
    deps.drain.track(req, handled);
    return handled;
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
    throw new AppError(
      'OVER_SIZE_LIMIT',
      413,
      `This upload is ${length} bytes; your uploads may be at most ${limit} bytes`,
    );
  }
}

/** What @tus/server leaves out of its responses. */
function decorate(response: Response, scope: RequestScope): void {
  const headers = response.headers;
  if (response.status === 503) headers.set('Retry-After', '1');
  if (scope.method === 'OPTIONS') {
    // The store claims @tus/server's misspelled 'concatentation' only to get past its gate for partial uploads.
    const extensions = (headers.get('tus-extension') ?? '').split(',').filter((e) => e !== 'concatentation');
    headers.set('Tus-Extension', extensions.join(','));
    headers.set('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
  }
  const record = scope.record;
  if (scope.method === 'HEAD' && response.status === 200 && record?.uploadConcat) {
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
