import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from '@tus/server';
import type { Locker } from '@tus/utils';
import type { RequestHandler } from 'express';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import { allowsAnyOrigin, type Config } from '../config.js';
import { invalidUploadId } from '../errors.js';
import type { Logger } from '../log.js';
import type { TrackedStore } from '../uploads/tracked-store.js';
import type { UploadTracker } from '../uploads/tracker.js';
import { isUploadId, newUploadId } from '../uploads/upload-id.js';
import { toAppError } from './errors.js';

export type TusDeps = Readonly<{
  config: Config;
  store: TrackedStore;
  tracker: UploadTracker;
  locker: Locker;
  logger: Logger;
}>;

/**
 * The upload ID of a tus URL, or undefined. The whole path must be
 * `<tusPath>/<uuid>`: `/files/x/<uuid>` or `/files/<uuid>/x` name no upload.
 */
export function uploadIdFromPath(pathname: string, tusPath: string): string | undefined {
  if (!pathname.startsWith(`${tusPath}/`)) return undefined;
  const id = pathname.slice(tusPath.length + 1).replace(/\/$/, '');
  return isUploadId(id) ? id : undefined;
}

function createTusServer({ config, store, locker, logger }: TusDeps): Server {
  return new Server({
    path: config.tusPath,
    datastore: store,
    locker,
    maxSize: config.maxSizeBytes,
    relativeLocation: config.relativeLocation,
    respectForwardedHeaders: config.trustProxy,
    allowedOrigins: allowsAnyOrigin(config) ? undefined : [...config.corsOrigins],
    namingFunction: () => newUploadId(),
    getFileIdFromRequest: (req) => uploadIdFromPath(new URL(req.url).pathname, config.tusPath),
    onResponseError: (req, error) => {
      const pathname = new URL(req.url).pathname;
      // A malformed ID is a client error of its own, not an unknown upload.
      if ((error as { status_code?: number }).status_code === 404 && pathname.startsWith(`${config.tusPath}/`)) {
        if (!uploadIdFromPath(pathname, config.tusPath)) return tusError(invalidUploadId());
      }
      if (isTusError(error)) return error;
      return tusError(toAppError(error, logger));
    },
  });
}

type TusError = { status_code: number; body: string };
const isTusError = (e: unknown): e is TusError =>
  typeof (e as TusError).status_code === 'number' && typeof (e as TusError).body === 'string';
const tusError = (e: TusError): TusError => ({ status_code: e.status_code, body: e.body });

/**
 * Express handler for the tus routes. It must be mounted before any body
 * parser: @tus/server reads the raw request stream.
 */
export function tusHandler(deps: TusDeps): RequestHandler {
  const server = createTusServer(deps);
  return async (req, res) => {
    const requestId = randomUUID();
    res.once('close', () => countFailedBody(deps, req, res, requestId));
    const response = await server.handleWeb(new NodeRequest({ req, res }));
    if (response.status === 503) response.headers.set('Retry-After', '1');
    await sendNodeResponse(res, response);
  };
}

/**
 * failedChunks counts each PATCH (or POST with a body) that ends without
 * storing its whole body: aborted, reset, refused (409, 413, ...) or failed.
 */
function countFailedBody(
  { config, tracker, logger }: TusDeps,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
) {
  const isPatch = req.method === 'PATCH';
  const isPostWithBody = req.method === 'POST' && req.headers['content-type'] === 'application/offset+octet-stream';
  if (!isPatch && !isPostWithBody) return;
  const succeeded = req.complete && res.statusCode === (isPatch ? 204 : 201);
  if (succeeded) return;
  const url = isPatch ? (req.url ?? '') : String(res.getHeader('location') ?? '');
  const id = uploadIdFromPath(new URL(url, 'http://local').pathname, config.tusPath);
  if (!id) return;
  tracker
    .recordFailure(id, requestId)
    .catch((error) => logger.warn({ err: error, uploadId: id }, 'could not count a failed request'));
}
