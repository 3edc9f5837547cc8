import type { IncomingMessage } from 'node:http';
import type { Locker } from '@tus/utils';
import type { Request, Response } from 'express';
import type { Config } from '../../config/load-config.js';
import { type AppError, appError, withHeaders } from '../../errors/app-error.js';
import type { PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { Logger } from '../../log.js';
import type { TusRequestInput, TusRequestOutcome } from '../../uploads/store/request-context.js';
import type { TrackedStore } from '../../uploads/store/tracked-store.js';
import { errorHeaders, toAppError } from '../errors.js';
import type { Protocol } from '../tus/request-frame.js';
import { corsHeaders, settleUnreadBody } from '../tus/tus-headers.js';
import { uploadIdFromPath } from '../tus/upload-path.js';
import { type DraftRequest, hasContent, readDraftRequest } from './draft-request.js';
import {
  completenessHeader,
  DRAFT_RESPONSE_HEADERS,
  INTEROP_VERSION_HEADER,
  type InteropVersion,
  interopVersionOf,
} from './interop.js';
import { append, cancel, create, retrieveOffset } from './procedures.js';

export type DraftDeps = Readonly<{
  config: Config;
  store: TrackedStore;
  locker: Locker;
  preCreate: PreCreateHook | undefined;
}>;

/** What the client was last told of the upload, once it is known to be active (error responses carry it too). */
export type Known = { offset: number; complete: boolean };

/** One draft request being served: what the procedures share. */
export type Exchange = Readonly<{
  req: Request;
  res: Response;
  version: InteropVersion;
  deps: DraftDeps;
  input: TusRequestInput;
  served: TusRequestOutcome;
  /** What the request says. */
  said: DraftRequest;
  /** The upload's state as far as this request knows it. */
  known: { current?: Known };
}>;

const EXPOSED = [
  'Location',
  'Upload-Offset',
  'Upload-Length',
  ...DRAFT_RESPONSE_HEADERS,
  'X-Error-Code',
  'X-Request-Id',
].join(', ');

/** Draft -04 problem types, for the two errors it names (interop version 6). */
const PROBLEM_TYPES: Partial<Record<AppError['code'], string>> = {
  OFFSET_MISMATCH: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset',
  UPLOAD_ALREADY_COMPLETE: 'https://iana.org/assignments/http-problem-types#completed-upload',
};

/**
 * The IETF Resumable Uploads draft, on the tus endpoint: a request that
 * carries Upload-Draft-Interop-Version is one of its procedures. Creation is
 * POST to the endpoint; offset retrieval (HEAD), append (PATCH) and
 * cancellation (DELETE) go to the upload URL (draft -01: "the upload URL [...]
 * is used for offset retrieval, appending and cancellation"). Each procedure
 * speaks to the same store as tus 1.0, so the upload is tracked, locked,
 * announced and expired as any other.
 */
export function draftProtocol(deps: DraftDeps) {
  const tusPath = deps.config.server.tusPath;
  return (req: Request, res: Response, pathname: string): Protocol => {
    const method = req.method ?? 'GET';
    const atEndpoint = pathname === tusPath || pathname === `${tusPath}/`;
    const uploadId = method === 'POST' ? undefined : uploadIdFromPath(pathname, tusPath);
    let version: InteropVersion = 6;
    let said: DraftRequest | undefined;
    const writes = (method === 'POST' || method === 'PATCH') && hasContent(req);
    return {
      uploadId,
      writes,
      // The store reads the content itself, straight from the request, as for tus.
      body: writes ? req : undefined,
      check: () => {
        version = interopVersionOf(req);
        checkTarget(method, atEndpoint, uploadId !== undefined);
        said = readDraftRequest(req, method, version);
      },
      refuse: (error, logger) => answerError(req, res, deps.config, version, error, logger, undefined),
      serve: async (input, served) => {
        const x: Exchange = { req, res, version, deps, input, served, said: said as DraftRequest, known: {} };
        try {
          if (method === 'POST') await create(x);
          else if (method === 'HEAD') await retrieveOffset(x, uploadId as string);
          else if (method === 'PATCH') await append(x, uploadId as string);
          else await cancel(x, uploadId as string);
        } catch (error) {
          answerError(req, res, deps.config, version, error, input.logger, x.known.current, providedOffset(req));
        }
      },
    };
  };
}

/** Which procedure the method and target name; anything else is refused before it is authorized. */
function checkTarget(method: string, atEndpoint: boolean, isUploadUrl: boolean): void {
  if (method === 'POST' && atEndpoint) return;
  if ((method === 'HEAD' || method === 'PATCH' || method === 'DELETE') && isUploadUrl) return;
  if ((method === 'HEAD' || method === 'PATCH' || method === 'DELETE') && !atEndpoint) {
    throw appError('NOT_AN_UPLOAD_URL');
  }
  const allow = atEndpoint ? 'POST, OPTIONS' : 'GET, HEAD, PATCH, DELETE, OPTIONS';
  throw withHeaders(appError('DRAFT_METHOD_NOT_ALLOWED', { method }), { Allow: allow });
}

/** The headers of every draft response: the interop version, echoed (the 104 "MUST" carry it; finals too, as Apple's and tusd's do), and CORS. */
export function draftHeaders(x: Pick<Exchange, 'req' | 'version' | 'deps'>): Record<string, string> {
  return { [INTEROP_VERSION_HEADER]: String(x.version), ...corsHeaders(x.req, x.deps.config, EXPOSED) };
}

/** Sends a final response, unless the connection is gone. */
export function answer(x: Exchange, status: number, headers: Record<string, string>, body?: string): void {
  if (x.res.destroyed || x.res.headersSent) return;
  x.res.writeHead(status, { ...draftHeaders(x), ...headers });
  x.res.end(body);
}

/**
 * The answer to a refused or failed draft request. While the upload is
 * active it carries Upload-Offset and its completeness (draft -01: "MUST
 * include the Upload-Offset header field [...] either when the response is a
 * success [...] or when the response is a failure (e.g. 409)"). An upload the
 * server no longer has is 404 (draft: "If the server does not consider the
 * upload resource to be active, it MUST respond with a 404 (Not Found)").
 */
function answerError(
  req: IncomingMessage,
  res: Response,
  config: Config,
  version: InteropVersion,
  error: unknown,
  logger: Logger,
  known: Known | undefined,
  provided?: number,
): void {
  let e = toAppError(error, logger);
  if (e.code === 'UPLOAD_GONE') e = appError('UPLOAD_NOT_FOUND', { detail: e.message });
  settleUnreadBody(req, res);
  if (res.destroyed || res.headersSent) return;
  const headers: Record<string, string> = {
    [INTEROP_VERSION_HEADER]: String(version),
    ...corsHeaders(req, config, EXPOSED),
    ...errorHeaders(e),
  };
  if (known) {
    headers['Upload-Offset'] = String(known.offset);
    Object.assign(headers, completenessHeader(version, known.complete));
  }
  const type = PROBLEM_TYPES[e.code];
  if (version >= 6 && type) {
    // Draft -04: the 409 "MAY use the problem type [...] mismatching-upload-offset" with "expected-offset"
    // and "provided-offset"; a completed upload's 400 "MAY use [...] completed-upload".
    const problem: Record<string, unknown> = { type, title: e.message };
    if (e.code === 'OFFSET_MISMATCH')
      Object.assign(problem, { 'expected-offset': known?.offset, 'provided-offset': provided });
    res.writeHead(e.status, { ...headers, 'Content-Type': 'application/problem+json' });
    res.end(JSON.stringify(problem));
    return;
  }
  res.writeHead(e.status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(e.body);
}

const providedOffset = (req: IncomingMessage): number | undefined => {
  const value = Number(req.headers['upload-offset']);
  return Number.isSafeInteger(value) ? value : undefined;
};
