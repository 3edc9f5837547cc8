import { entry } from './entry.js';

/**
 * Errors of the IETF Resumable Uploads draft (draft-ietf-httpbis-resumable-upload),
 * spoken by requests that carry Upload-Draft-Interop-Version. Its shared
 * errors (an unknown upload, a wrong offset, limits) are the tus ones.
 */
export const DRAFT_ERRORS = {
  INTEROP_VERSION_UNSUPPORTED: entry<{ version: string; supported: readonly number[] }>(
    400,
    'Upload-Draft-Interop-Version names a version this server does not speak, on a request that is not a whole upload in one creation (which is stored as an ordinary upload)',
    (p) =>
      `Upload-Draft-Interop-Version ${p.version} is not supported: this server speaks interop versions ${p.supported.join(', ')} of draft-ietf-httpbis-resumable-upload. A creation with the whole file (without Upload-Complete: ?0) is stored all the same; nothing else of an unknown version is`,
  ),
  INVALID_FIELD: entry<{ field: string; expected: string }>(
    400,
    'A field of the draft is not of its type (Upload-Offset, Upload-Length: an integer; Upload-Complete, Upload-Incomplete: ?0 or ?1)',
    (p) => `${p.field} must be ${p.expected}`,
  ),
  FIELD_NOT_ALLOWED: entry<{ field: string; procedure: string }>(
    400,
    'A draft request carries a field its procedure forbids (a HEAD or DELETE with Upload-Offset or Upload-Complete, a creation with an Upload-Offset other than 0)',
    (p) => `A ${p.procedure} must not carry ${p.field}`,
  ),
  COMPLETENESS_REQUIRED: entry<{ field: string; procedure: 'creation' | 'append' }>(
    400,
    'A draft creation (or, from interop version 7, an append) does not say whether its content ends the upload',
    (p) =>
      `${p.procedure === 'append' ? 'An append' : 'A creation'} must carry ${p.field}: say whether this request's content ends the upload`,
  ),
  DRAFT_METHOD_NOT_ALLOWED: entry<{ method: string }>(
    405,
    'A draft request uses a method its target does not take (creation is POST to the endpoint; HEAD, PATCH and DELETE go to an upload URL)',
    (p) =>
      `${p.method} is not a procedure here: create an upload with POST to the endpoint, then HEAD, PATCH or DELETE its Location`,
  ),
  PARTIAL_UPLOAD_TYPE_REQUIRED: entry(
    400,
    'An interop version 6 append does not say Content-Type: application/partial-upload (draft -04: appends "MUST use" it)',
    () => 'An append in interop version 6 must be sent with Content-Type: application/partial-upload',
  ),
  UPLOAD_ALREADY_COMPLETE: entry(
    400,
    'An append to an upload that is complete, up to interop version 8 (draft -04: "MUST NOT modify the upload resource and MUST respond with a 400 (Bad Request)"); from 9 a content-less completing one gets the final response again',
    () => 'This upload is already complete: nothing more can be appended',
  ),
  LENGTH_INCONSISTENT: entry<{ detail: string }>(
    400,
    'A draft request\'s lengths disagree: Upload-Length, Content-Length of a completing request, or the upload\'s recorded size (draft -05: "MUST respond with a 400")',
    (p) => p.detail,
  ),
  BEYOND_FINAL_SIZE: entry<{ size: number }>(
    400,
    'A draft request\'s content goes past the upload\'s final size (draft -05: the server "MUST stop appending bytes [...] and reject the request with a 400"): refused before any byte when Content-Length says so; a chunked body is stopped at the final size',
    (p) => `This upload's final size is ${p.size} bytes, and this request's content goes past it`,
  ),
  DRAFT_CONCAT_UNSUPPORTED: entry(
    400,
    'A draft request asks for tus concatenation (Upload-Concat), which the draft does not have',
    () =>
      'Upload-Concat is tus concatenation, not part of the resumable uploads draft: use tus 1.0 (Tus-Resumable: 1.0.0) for parallel uploads',
  ),
} as const;
