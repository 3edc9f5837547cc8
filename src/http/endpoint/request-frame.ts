import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Response as ExpressResponse, Request } from 'express';
import { sendNodeResponse } from 'srvx/node';
import type { AccessIntent } from '../../auth/authorizer.js';
import type { UploadAccess } from '../../auth/upload-access.js';
import type { Config } from '../../config/load-config.js';
import { appError } from '../../errors/app-error.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { type ChecksumExpectation, parseUploadChecksum } from '../../uploads/digests/checksum.js';
import type { Caller } from '../../uploads/model/caller.js';
import type { UploadTracker } from '../../uploads/state/tracker.js';
import type { Drain } from '../drain.js';

export type FrameDeps = Readonly<{
  config: Config;
  access: UploadAccess;
  tracker: UploadTracker;
  drain: Drain;
  logger: Logger;
  metrics: Metrics;
}>;

/** What a request says beyond its method and URL, read once, before any byte of its body. */
export type RequestInput = Readonly<{
  method: string;
  /** Logs with this request's ID. */
  logger: Logger;
  /** Authorized before any byte is read. */
  caller: Caller;
  /** tus `Upload-Concat: partial` on a creation. */
  partial: boolean;
  /** tus `Upload-Checksum` of a PATCH, parsed. */
  checksum: ChecksumExpectation | undefined;
  /** The body's length (Content-Length), when the request says it. */
  bodyLength: number | undefined;
}>;

/** What a request did, for its log line and its failure count. Written by the protocol that serves it. */
export type RequestOutcome = {
  /** The upload this request created. */
  createdId?: string;
  /** Bytes this request stored. */
  stored?: number;
};

/** What one protocol (tus 1.0, or the IETF draft) does with a request the frame has set up. */
export type Protocol = Readonly<{
  /** The upload the request names (none for a creation). */
  uploadId: string | undefined;
  /** Whether the request carries a body to store (counted as an active upload, and as failed if it does not arrive). */
  writes: boolean;
  /** Checks made before anything else; throws the error to answer with. */
  check: () => void;
  /** Answers a request refused before it was served (by `check` or by authorization). */
  refuse: (error: unknown, logger: Logger) => void;
  /** Serves the authorized request, saying in `outcome` what it created and stored. */
  serve: (input: RequestInput, outcome: RequestOutcome) => Promise<void>;
}>;

/** What each method asks to do, for the authorizer (OPTIONS touches no upload). */
const INTENTS: Readonly<Record<string, AccessIntent>> = {
  POST: 'create',
  // Downloads are served by http/tus/download.ts; a GET that reaches @tus/server is checked all the same.
  GET: 'read',
  HEAD: 'resume',
  PATCH: 'resume',
  DELETE: 'delete',
};

/**
 * The frame both protocols' requests are served in: checked, authorized and
 * their inputs read before any byte of the body; timed and counted while they
 * run; their failed bodies counted once they end; waited for by a shutdown.
 * A request that was refused changes nothing, not even the failure count of
 * the upload it named.
 */
export function serveInFrame(deps: FrameDeps, req: Request, res: ExpressResponse, protocol: Protocol) {
  const logger = req.log ?? deps.logger;
  const requestId = String(req.id ?? randomUUID());
  cutOffSilentBody(req, deps.config.server.idleTimeoutMs);
  const stopTimer = req.method === 'PATCH' ? deps.metrics.patchDuration.startTimer() : undefined;
  if (protocol.writes) deps.metrics.activeUploads.inc();
  const outcome: RequestOutcome = {};
  let authorized = false;
  res.once('close', () => {
    if (protocol.writes) deps.metrics.activeUploads.dec();
    stopTimer?.();
    const id = protocol.uploadId ?? outcome.createdId;
    if (authorized && protocol.writes && id) countFailedBody(deps, req, res, id, requestId);
  });
  const handled = (async () => {
    let input: RequestInput;
    try {
      protocol.check();
      input = await readInput(req, deps, protocol, logger);
      authorized = true;
    } catch (error) {
      return protocol.refuse(error, logger);
    }
    // The request's log line names the upload and the bytes stored, as the protocol says.
    let named: string | undefined;
    Object.defineProperties(res.locals, {
      uploadId: {
        get: () => named ?? protocol.uploadId ?? outcome.createdId,
        set: (id: string) => {
          named = id;
        },
        enumerable: true,
      },
      bytesStored: { get: () => outcome.stored, enumerable: true },
    });
    await protocol.serve(input, outcome);
  })();
  deps.drain.track(req, handled);
  return handled;
}

/** Who sends the request (authorized before any byte is read), and what the store must know of it. */
async function readInput(
  req: IncomingMessage,
  deps: FrameDeps,
  protocol: Protocol,
  logger: Logger,
): Promise<RequestInput> {
  const method = req.method ?? 'GET';
  const intent = INTENTS[method];
  const caller = intent ? await deps.access.check(req, intent, protocol.uploadId) : deps.access.anonymous;
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

/**
 * failedChunks counts each request with a body that ends without storing all
 * of it: aborted, reset, refused (409, 413, 460, ...) or failed.
 */
function countFailedBody(deps: FrameDeps, req: IncomingMessage, res: ServerResponse, id: string, requestId: string) {
  if (req.complete && res.statusCode >= 200 && res.statusCode < 300) return;
  deps.tracker
    .recordFailure(id, requestId)
    .catch((error) => deps.logger.warn({ err: error, uploadId: id }, 'could not count a failed request'));
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

/**
 * Sends a web Response, unless the connection is already gone: srvx's
 * `res.end(callback)` never calls back on a destroyed socket, which would leave
 * the handler (and a shutdown waiting for it) hanging.
 */
export async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  if (res.destroyed) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  await new Promise<void>((resolve) => {
    res.once('close', resolve);
    sendNodeResponse(res, response).then(resolve, resolve);
  });
}
