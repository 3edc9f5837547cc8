import type { IncomingMessage } from 'node:http';
import { appError } from '../../errors/app-error.js';
import {
  completenessField,
  type InteropVersion,
  mediaType,
  PARTIAL_UPLOAD,
  requestCompletes,
  sfInteger,
} from './interop.js';

/** What a draft request says, read and checked before it is authorized or anything is stored. */
export type DraftRequest = Readonly<{
  /** Whether its content ends the upload. */
  completes: boolean;
  /** Upload-Offset (appends). */
  offset: number | undefined;
  /** Upload-Length. */
  declared: number | undefined;
}>;

/**
 * Reads the fields of a draft request for its procedure, refusing with 400
 * what the draft says a server "MUST" refuse, and what it cannot make sense of.
 */
export function readDraftRequest(req: IncomingMessage, method: string, version: InteropVersion): DraftRequest {
  const field = completenessField(version);
  if (method === 'HEAD' || method === 'DELETE') {
    // "The request MUST NOT include an Upload-Offset or [completeness] header field. The server MUST reject
    // the request with a 400"; -05 adds Upload-Length for an offset retrieval.
    const withLength = method === 'HEAD' && version >= 6;
    const procedure = method === 'HEAD' ? 'offset retrieval (HEAD)' : 'cancellation (DELETE)';
    for (const name of ['Upload-Offset', field, ...(withLength ? ['Upload-Length'] : [])]) {
      if (req.headers[name.toLowerCase()] !== undefined)
        throw appError('FIELD_NOT_ALLOWED', { field: name, procedure });
    }
    return { completes: false, offset: undefined, declared: undefined };
  }
  if (req.headers['upload-concat'] !== undefined) throw appError('DRAFT_CONCAT_UNSUPPORTED');
  const declared = sfInteger(req, 'Upload-Length');
  const offset = sfInteger(req, 'Upload-Offset');
  if (method === 'POST') {
    // -01: the creation's completeness field "MUST be" there; -02 on: "MUST be set to false [...] otherwise MUST be set to true".
    const completes = requestCompletes(req, version);
    if (completes === undefined) throw appError('COMPLETENESS_REQUIRED', { field });
    // "The request MUST NOT include the Upload-Offset header" (Apple's server takes 0, and so does this one).
    if ((offset ?? 0) !== 0)
      throw appError('FIELD_NOT_ALLOWED', { field: 'Upload-Offset', procedure: 'creation (POST)' });
    return { completes, offset: 0, declared };
  }
  // -04: "The request MUST use the media type application/partial-upload" (interop version 6).
  if (version >= 6 && mediaType(req) !== PARTIAL_UPLOAD) throw appError('PARTIAL_UPLOAD_TYPE_REQUIRED');
  if (offset === undefined) {
    throw appError('INVALID_FIELD', {
      field: 'Upload-Offset',
      expected: 'sent on an append: the offset its content starts at',
    });
  }
  // -01: an append without Upload-Incomplete ends the upload; -02 on: only Upload-Complete: ?1 does.
  return { completes: requestCompletes(req, version) ?? version === 3, offset, declared };
}

/** Whether a request has content (Content-Length above 0, or a chunked body). */
export const hasContent = (req: IncomingMessage): boolean =>
  req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
