import type { IncomingMessage } from 'node:http';
import { appError } from '../../errors/app-error.js';
import { DraftFields, mediaType, PARTIAL_UPLOAD } from './interop.js';
import type { VersionRules } from './versions.js';

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
export function readDraftRequest(req: IncomingMessage, method: string, rules: VersionRules): DraftRequest {
  const field = rules.completenessField;
  const fields = new DraftFields(req, rules);
  if (method === 'HEAD' || method === 'GET' || method === 'DELETE') {
    // -01: "The request MUST NOT include an Upload-Offset or [completeness] header field. The server MUST reject
    // the request with a 400"; -05 adds Upload-Length for an offset retrieval (later revisions leave the refusal
    // to the server, and Apple's keeps it).
    const withLength = method !== 'DELETE' && rules.limits;
    const procedure = method === 'DELETE' ? 'cancellation (DELETE)' : `offset retrieval (${method})`;
    for (const name of ['Upload-Offset', field, ...(withLength ? ['Upload-Length'] : [])]) {
      if (req.headers[name.toLowerCase()] !== undefined)
        throw appError('FIELD_NOT_ALLOWED', { field: name, procedure });
    }
    return { completes: false, offset: undefined, declared: undefined };
  }
  if (req.headers['upload-concat'] !== undefined) throw appError('DRAFT_CONCAT_UNSUPPORTED');
  const declared = fields.integer('Upload-Length');
  const offset = fields.integer('Upload-Offset');
  if (method === 'POST') {
    // -01: the creation's completeness field "MUST be" there; -02 on: "MUST be set to false [...] otherwise MUST be set to true".
    const completes = fields.completes();
    if (completes === undefined) throw appError('COMPLETENESS_REQUIRED', { field, procedure: 'creation' });
    // "The request MUST NOT include the Upload-Offset header" (Apple's server takes 0, and so does this one).
    if ((offset ?? 0) !== 0)
      throw appError('FIELD_NOT_ALLOWED', { field: 'Upload-Offset', procedure: 'creation (POST)' });
    return { completes, offset: 0, declared };
  }
  if (rules.partialUploadType && mediaType(req) !== PARTIAL_UPLOAD) throw appError('PARTIAL_UPLOAD_TYPE_REQUIRED');
  if (offset === undefined) {
    throw appError('INVALID_FIELD', {
      field: 'Upload-Offset',
      expected: 'sent on an append: the offset its content starts at',
    });
  }
  const completes = fields.completes();
  // -06: an append's request "MUST include the Upload-Complete header field".
  if (completes === undefined && rules.appendWithoutCompleteness === 'refused') {
    throw appError('COMPLETENESS_REQUIRED', { field, procedure: 'append' });
  }
  return { completes: completes ?? rules.appendWithoutCompleteness === 'complete', offset, declared };
}

/** Whether a request has content (Content-Length above 0, or a chunked body). */
export const hasContent = (req: IncomingMessage): boolean =>
  req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
