import type { Request, Response } from 'express';
import type { Config } from '../../config/load-config.js';
import type { PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { UploadLocker } from '../../uploads/coordination/upload-lock.js';
import type { IdempotencyKeys } from '../../uploads/state/idempotency-keys.js';
import type { UploadStore } from '../../uploads/store/upload-store.js';
import type { Drain } from '../drain.js';
import { corsHeaders, DRAFT_RESPONSE_HEADERS, INTEROP_VERSION_HEADER, settleUnreadBody } from '../endpoint/headers.js';
import type { RequestInput, RequestOutcome } from '../endpoint/request-frame.js';
import type { DraftRequest } from './draft-request.js';
import type { VersionRules } from './versions.js';

export type DraftDeps = Readonly<{
  config: Config;
  uploadStore: UploadStore;
  locker: UploadLocker;
  idempotency: IdempotencyKeys;
  preCreate: PreCreateHook | undefined;
  drain: Drain;
}>;

/** What the client was last told of the upload, once it is known to be active (error responses carry it too). */
type Known = { offset: number; complete: boolean };

/** One draft request being served: what the procedures share. */
export type Exchange = Readonly<{
  req: Request;
  res: Response;
  rules: VersionRules;
  deps: DraftDeps;
  input: RequestInput;
  outcome: RequestOutcome;
  /** What the request says. */
  said: DraftRequest;
  /** The upload's state as far as this request knows it, and its Upload-Limit once known. */
  known: { current?: Known; limit?: string };
}>;

/** What a browser may read of a draft response. */
export const EXPOSED = [
  'Location',
  'Upload-Offset',
  'Upload-Length',
  ...DRAFT_RESPONSE_HEADERS,
  'X-Error-Code',
  'X-Request-Id',
].join(', ');

/** The headers of every draft response: the interop version, echoed (the 104 "MUST" carry it; finals too, as Apple's and tusd's do), and CORS. */
function draftHeaders(x: Pick<Exchange, 'req' | 'rules' | 'deps'>): Record<string, string> {
  return { [INTEROP_VERSION_HEADER]: String(x.rules.version), ...corsHeaders(x.req, x.deps.config, EXPOSED) };
}

/** Sends a final response, unless the connection is gone. */
export function answer(x: Exchange, status: number, headers: Record<string, string>, body?: string): void {
  // A body not read (a creation sent again, answered with the upload the first one made) is drained or cut.
  settleUnreadBody(x.req, x.res);
  if (x.res.destroyed || x.res.headersSent) return;
  x.res.writeHead(status, { ...draftHeaders(x), ...headers });
  x.res.end(body);
}
