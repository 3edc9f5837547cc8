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
import type { Drain } from './drain.js';
import { toAppError } from './errors.js';

export type TusDeps = Readonly<{
  config: Config;
  store: TrackedStore;
  tracker: UploadTracker;
  locker: Locker;
  drain: Drain;
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

type TusServerHooks = Readonly<{
  /** Called with the ID chosen for a new upload, and the request creating it. */
  onNewId(req: IncomingMessage, id: string): void;
}>;

/** The Node request behind @tus/server's web Request (srvx keeps it there). */
const nodeRequestOf = (req: unknown): IncomingMessage | undefined =>
  (req as { runtime?: { node?: { req?: IncomingMessage } } }).runtime?.node?.req;

function createTusServer({ config, store, locker, logger }: TusDeps, hooks: TusServerHooks): Server {
  return new Server({
    path: config.tusPath,
    datastore: store,
    locker,
    maxSize: (req, id) =>
      store.maxSizeFor(req.method === 'POST' ? undefined : (id ?? undefined), req.headers.get('upload-metadata')),
    relativeLocation: config.relativeLocation,
    respectForwardedHeaders: config.trustProxy,
    allowedOrigins: allowsAnyOrigin(config) ? undefined : [...config.corsOrigins],
    namingFunction: (req) => {
      const id = newUploadId();
      const node = nodeRequestOf(req);
      if (node) hooks.onNewId(node, id);
      return id;
    },
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
  const newUploads = new WeakMap<IncomingMessage, string>();
  const server = createTusServer(deps, { onNewId: (req, id) => newUploads.set(req, id) });
  const idleMs = deps.config.idleTimeoutSeconds * 1000;

  return (req, res) => {
    const requestId = randomUUID();
    cutOffSilentBody(req, idleMs);
    res.once('close', () => {
      try {
        const id = req.method === 'POST' ? newUploads.get(req) : uploadIdFromPath(req.path, deps.config.tusPath);
        if (id && endedWithoutWholeBody(req, res)) {
          deps.tracker
            .recordFailure(id, requestId)
            .catch((error) => deps.logger.warn({ err: error, uploadId: id }, 'could not count a failed request'));
        }
      } catch (error) {
        deps.logger.error({ err: error }, 'could not inspect a finished request');
      }
    });
    const handled = (async () => {
      const response = await server.handleWeb(new NodeRequest({ req, res }));
      if (response.status === 503) response.headers.set('Retry-After', '1');
      await send(res, response);
    })();
    deps.drain.track(req, handled);
    return handled;
  };
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
 * storing its whole body: aborted, reset, refused (409, 413, ...) or failed.
 */
function endedWithoutWholeBody(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'PATCH') return !(req.complete && res.statusCode === 204);
  const hasBody = req.method === 'POST' && req.headers['content-type'] === 'application/offset+octet-stream';
  return hasBody && !(req.complete && res.statusCode === 201);
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
