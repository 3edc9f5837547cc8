import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import type { Config } from '../../config/load-config.js';
import { type AppError, appError, withHeaders } from '../../errors/app-error.js';
import type { Logger } from '../../log.js';
import { corsHeaders, INTEROP_VERSION_HEADER, settleUnreadBody } from '../endpoint/headers.js';
import type { Protocol } from '../endpoint/request-frame.js';
import { uploadIdFromPath } from '../endpoint/upload-path.js';
import { errorHeaders, toAppError } from '../errors.js';
import { type DraftRequest, hasContent, readDraftRequest } from './draft-request.js';
import { type DraftDeps, EXPOSED, type Exchange } from './exchange.js';
import { completenessHeader, interopVersionOf } from './interop.js';
import { ordinaryCreation, refuseUnknownVersion } from './ordinary-creation.js';
import { append, cancel, create, retrieveOffset } from './procedures.js';
import { type ProblemType, rulesOf, type VersionRules } from './versions.js';

/** The problem type (RFC 9457) each error is answered with, in the versions that define it. */
const PROBLEM_TYPES: Partial<Record<AppError['code'], ProblemType>> = {
  // -04: the 409 "MAY use the problem type [...] mismatching-upload-offset".
  OFFSET_MISMATCH: 'mismatching-upload-offset',
  // -04: a completed upload's 400 "MAY use [...] completed-upload" (gone from -12).
  UPLOAD_ALREADY_COMPLETE: 'completed-upload',
  // -06: "inconsistent-upload-length".
  LENGTH_INCONSISTENT: 'inconsistent-upload-length',
  BEYOND_FINAL_SIZE: 'inconsistent-upload-length',
};

/** Refusals for a limit: -12, "the response SHOULD include the Upload-Limit header field carrying all limits". */
const LIMIT_REFUSALS = new Set<AppError['code']>(['UPLOAD_TOO_LARGE', 'OVER_SIZE_LIMIT', 'BEYOND_FINAL_SIZE']);

/**
 * The IETF Resumable Uploads draft, on the tus endpoint: a request that
 * carries Upload-Draft-Interop-Version is one of its procedures. Creation is
 * POST to the endpoint; offset retrieval (HEAD, and GET from 9), append (PATCH)
 * and cancellation (DELETE) go to the upload URL. Each procedure speaks to the
 * same UploadStore as tus 1.0, so the upload is tracked, locked, announced and
 * expired as any other. A version this server does not know never fails an
 * upload that would work without the draft (see ordinary-creation.ts).
 */
export function draftProtocol(deps: DraftDeps) {
  const tusPath = deps.config.server.tusPath;
  return (req: Request, res: Response, pathname: string): Protocol => {
    const method = req.method ?? 'GET';
    const atEndpoint = pathname === tusPath || pathname === `${tusPath}/`;
    const uploadId = method === 'POST' ? undefined : uploadIdFromPath(pathname, tusPath);
    const writes = (method === 'POST' || method === 'PATCH') && hasContent(req);
    const version = interopVersionOf(req);
    if (version === undefined) {
      return {
        uploadId,
        writes,
        check: () => refuseUnknownVersion(req, method, atEndpoint),
        refuse: (error, logger) => answerError(req, res, deps.config, undefined, error, logger, {}),
        serve: (input, outcome) =>
          ordinaryCreation({ req, res, deps, input, outcome, known: {} }).catch((error) =>
            answerError(req, res, deps.config, undefined, error, input.logger, {}),
          ),
      };
    }
    const rules = rulesOf(version);
    let said: DraftRequest | undefined;
    return {
      uploadId,
      writes,
      check: () => {
        checkTarget(method, atEndpoint, uploadId !== undefined);
        said = readDraftRequest(req, method, rules);
      },
      refuse: (error, logger) => answerError(req, res, deps.config, rules, error, logger, {}),
      serve: async (input, outcome) => {
        const x: Exchange = { req, res, rules, deps, input, outcome, said: said as DraftRequest, known: {} };
        try {
          if (method === 'POST') await create(x);
          else if (method === 'HEAD' || method === 'GET') await retrieveOffset(x, uploadId as string);
          else if (method === 'PATCH') await append(x, uploadId as string);
          else await cancel(x, uploadId as string);
        } catch (error) {
          answerError(req, res, deps.config, rules, error, input.logger, x.known, providedOffset(req));
        }
      },
    };
  };
}

/** Which procedure the method and target name; anything else is refused before it is authorized. */
function checkTarget(method: string, atEndpoint: boolean, isUploadUrl: boolean): void {
  const onUpload = ['HEAD', 'GET', 'PATCH', 'DELETE'].includes(method);
  if (method === 'POST' && atEndpoint) return;
  if (onUpload && isUploadUrl) return;
  if (onUpload && !atEndpoint) throw appError('NOT_AN_UPLOAD_URL');
  const allow = atEndpoint ? 'POST, OPTIONS' : 'GET, HEAD, PATCH, DELETE, OPTIONS';
  throw withHeaders(appError('DRAFT_METHOD_NOT_ALLOWED', { method }), { Allow: allow });
}

/**
 * The answer to a refused or failed draft request. While the upload is
 * active it carries Upload-Offset and its completeness (draft -01: "MUST
 * include the Upload-Offset header field [...] either when the response is a
 * success [...] or when the response is a failure (e.g. 409)"); from 9 (-12)
 * Upload-Complete says whether the response is the target resource's own
 * final one: false on a failure of an active upload, true on the refusal of a
 * creation before any upload exists. An upload the server no longer has is 404
 * (draft: "If the server does not consider the upload resource to be active,
 * it MUST respond with a 404 (Not Found)"). `rules` is undefined for a version
 * this server does not speak: then the answer says nothing of the draft.
 */
function answerError(
  req: IncomingMessage,
  res: Response,
  config: Config,
  rules: VersionRules | undefined,
  error: unknown,
  logger: Logger,
  known: Exchange['known'],
  provided?: number,
): void {
  let e = toAppError(error, logger);
  if (e.code === 'UPLOAD_GONE') e = appError('UPLOAD_NOT_FOUND', { detail: e.message });
  settleUnreadBody(req, res);
  if (res.destroyed || res.headersSent) return;
  const headers: Record<string, string> = { ...corsHeaders(req, config, EXPOSED), ...errorHeaders(e) };
  if (rules) {
    headers[INTEROP_VERSION_HEADER] = String(rules.version);
    if (known.current) {
      headers['Upload-Offset'] = String(known.current.offset);
      Object.assign(headers, completenessHeader(rules, known.current.complete && !rules.completeMeansFinal));
    } else if (rules.completeMeansFinal && req.method === 'POST' && e.status < 500) {
      Object.assign(headers, completenessHeader(rules, true));
    }
    if (known.limit && LIMIT_REFUSALS.has(e.code)) headers['Upload-Limit'] = known.limit;
  }
  const type = PROBLEM_TYPES[e.code];
  if (rules && type && rules.problems.has(type)) {
    const problem: Record<string, unknown> = {
      type: `https://iana.org/assignments/http-problem-types#${type}`,
      title: e.message,
    };
    if (type === 'mismatching-upload-offset') {
      Object.assign(problem, { 'expected-offset': known.current?.offset, 'provided-offset': provided });
    }
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
