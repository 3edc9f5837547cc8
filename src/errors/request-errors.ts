import { entry } from './entry.js';

/** Errors of the request itself: what it names, how it is formed, what the protocol and the limits refuse. */
export const REQUEST_ERRORS = {
  // The request names no upload this server can serve.
  INVALID_UPLOAD_ID: entry(
    400,
    'A dashboard or API route names an upload by something that is not a UUID',
    () =>
      'Invalid upload ID: expected a UUID such as 3f2c1a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60 (with or without the "upload:" prefix)',
  ),
  NOT_AN_UPLOAD_URL: entry(
    404,
    'A tus request names an upload URL whose last segment is not a UUID (tus: "If the resource is not found, the Server SHOULD return [...] 404 Not Found")',
    () =>
      "No upload at this URL: upload URLs end in the upload's ID, a UUID such as 3f2c1a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60 (the Location the creation answered with)",
  ),
  UPLOAD_NOT_FOUND: {
    status: 404,
    when: 'No upload has this ID (never created, deleted, expired), or it is not in the state the route needs',
    message: (p?: { detail?: string }) =>
      p?.detail ?? 'No upload with this ID: it never existed, was deleted, or has expired',
  },
  UPLOAD_GONE: entry(
    410,
    'The upload expired, or its bytes are gone, after it was created',
    () => 'This upload no longer exists (it expired, or its bytes are gone); start a new upload',
  ),
  GROUP_NOT_FOUND: entry(404, 'No upload belongs to the group', () => 'No upload belongs to this group'),
  NOT_FOUND: entry<{ method: string; path: string }>(
    404,
    "A path under this server's routes that nothing serves",
    (p) => `No route for ${p.method} ${p.path}`,
  ),
  DASHBOARD_OFF: entry(
    404,
    'The uploads list or the all-uploads stream is asked for while DASHBOARD_TOKEN is unset',
    () => 'The uploads list is turned off; set DASHBOARD_TOKEN to turn it on',
  ),

  // The request itself is malformed.
  INVALID_REQUEST: entry(400, 'A JSON body cannot be parsed', () => 'The request body is not valid JSON'),
  BODY_TOO_LARGE: entry(413, 'A JSON body is larger than the route accepts', () => 'The request body is too large'),
  UNSUPPORTED_BODY_ENCODING: entry<{ reason: string }>(
    415,
    'A JSON body comes in a charset or content encoding the server does not read',
    (p) => `The request body cannot be read: ${p.reason}`,
  ),
  RANGE_NOT_SATISFIABLE: entry(416, 'A download asks for a Range outside the file', () => 'Range Not Satisfiable'),
  PRECONDITION_FAILED: entry(
    412,
    "A download's If-Match or If-Unmodified-Since does not hold",
    () => 'Precondition Failed',
  ),
  UNREADABLE_BODY: entry<{ reason: string }>(
    400,
    'A request body arrives in an encoding or form the server cannot read',
    (p) => `The request body cannot be read: ${p.reason}`,
  ),
  MALFORMED_PATH: entry(
    400,
    'The URL path has malformed percent-encoding (such as %ff) outside the upload endpoint',
    () => 'The URL path has malformed percent-encoding: encode each byte as %XX of valid UTF-8',
  ),
  DOT_SEGMENTS: entry(
    400,
    'The URL path has "." or ".." segments',
    () => 'The URL path has "." or ".." segments: send the path without them',
  ),
  INVALID_CHUNK_SIZE: entry<{ minBytes: number; maxBytes: number }>(
    400,
    'Upload-Metadata chunkSize is not a whole number of bytes within the bounds',
    (p) => `Upload-Metadata chunkSize must be a whole number of bytes between ${p.minBytes} and ${p.maxBytes}`,
  ),
  INVALID_GROUP: entry<{ field: string }>(
    400,
    'A group name (Upload-Metadata group, or the group route) breaks the rule',
    (p) => `Invalid ${p.field}: a group is 1 to 64 letters, digits, "-" or "_"`,
  ),
  INVALID_STATUS_FILTER: entry<{ statuses: readonly string[] }>(
    400,
    'The uploads list is asked for an unknown status',
    (p) => `status must be one of ${p.statuses.join(', ')}`,
  ),
  INVALID_PAGE_LIMIT: entry(
    400,
    'The uploads list is asked for a page size out of bounds',
    () => 'limit must be a whole number from 1 to 500',
  ),
  INVALID_CURSOR: entry(
    400,
    'The uploads list is given a cursor it did not hand out',
    () => 'Invalid cursor: pass the "next" value of the previous page',
  ),
  INVALID_CHECKSUM_HEADER: entry(
    400,
    'Upload-Checksum is not "<algorithm> <base64 digest>"',
    () => 'Upload-Checksum must be "<algorithm> <base64 digest>", e.g. "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0="',
  ),
  UNSUPPORTED_CHECKSUM_ALGORITHM: entry<{ name: string; supported: readonly string[] }>(
    400,
    'Upload-Checksum names an algorithm the server does not support',
    (p) => `Unsupported checksum algorithm "${p.name}"; supported: ${p.supported.join(', ')}`,
  ),
  INVALID_CHECKSUM_LENGTH: entry<{ algorithm: string; bytes: number }>(
    400,
    "Upload-Checksum's digest has the wrong length for its algorithm",
    (p) => `Upload-Checksum: a ${p.algorithm} digest is ${p.bytes} bytes`,
  ),
  CHECKSUM_MISMATCH: entry(
    460,
    'A PATCH body does not match its Upload-Checksum (the body is discarded, the offset stays)',
    () => 'Checksum Mismatch',
  ),
  LENGTH_ALREADY_DECLARED: entry(
    400,
    'A PATCH declares Upload-Length for an upload whose length is known',
    () => 'Upload-Length was already declared for this upload',
  ),
  INVALID_IDEMPOTENCY_KEY: entry(
    400,
    "A creation's Idempotency-Key is empty, longer than 255 characters, or not visible ASCII",
    () => 'Idempotency-Key must be 1 to 255 visible ASCII characters (a quoted string or a bare token)',
  ),
  IDEMPOTENCY_KEY_REUSED: entry(
    422,
    'A creation reuses an Idempotency-Key for an upload of another size (draft-ietf-httpapi-idempotency-key-header: 422)',
    () => 'This Idempotency-Key was used for an upload of another size: use a new key for a new upload',
  ),
  LENGTH_BELOW_OFFSET: entry(
    400,
    'A declared Upload-Length is smaller than the bytes already received',
    () => 'Upload-Length is smaller than the bytes already received',
  ),

  // tus 1.0 protocol errors, most raised by @tus/server itself (their messages are its own).
  TUS_VERSION_UNSUPPORTED: entry<{ version: string }>(
    412,
    'Tus-Resumable names a version other than 1.0.0 (the response carries Tus-Version)',
    (p) => `Tus-Resumable ${p.version} is not supported: this server speaks tus 1.0.0 (see Tus-Version)`,
  ),
  METHOD_OVERRIDE_UNSUPPORTED: entry<{ method: string }>(
    400,
    'X-HTTP-Method-Override names a method tus does not use',
    (p) => `X-HTTP-Method-Override: ${p.method} is not a tus method (use GET, HEAD, POST, PATCH, DELETE or OPTIONS)`,
  ),
  TUS_RESUMABLE_REQUIRED: entry(
    412,
    'A tus request (other than OPTIONS) has no Tus-Resumable header',
    () => 'Tus-Resumable Required',
  ),
  INVALID_HEADERS: entry<{ names: string }>(
    400,
    'tus headers with malformed values (@tus/server names them)',
    (p) => `Invalid ${p.names}`,
  ),
  INVALID_LENGTH: entry(
    400,
    'A creation has neither Upload-Length nor Upload-Defer-Length (or both), or a PATCH declares a length it may not',
    () => 'Upload-Length or Upload-Defer-Length header required',
  ),
  INVALID_METADATA: entry(
    400,
    'Upload-Metadata is not comma-separated "key base64value" pairs with unique keys',
    () =>
      'Upload-Metadata is invalid. It MUST consist of one or more comma-separated key-value pairs. The key and value MUST be separated by a space. The key MUST NOT contain spaces and commas and MUST NOT be empty. The key SHOULD be ASCII encoded and the value MUST be Base64 encoded. All keys MUST be unique',
  ),
  OFFSET_REQUIRED: entry(403, 'A PATCH has no Upload-Offset header', () => 'Upload-Offset header required'),
  OFFSET_MISMATCH: entry(
    409,
    'A PATCH\'s Upload-Offset is not the upload\'s offset (tus: "MUST respond with the 409 Conflict status")',
    () => 'Upload-Offset conflict',
  ),
  CONTENT_TYPE_REQUIRED: entry(
    415,
    'A tus PATCH does not say Content-Type: application/offset+octet-stream (tus: "otherwise the server SHOULD return a 415 Unsupported Media Type status")',
    () => 'A PATCH body must be sent with Content-Type: application/offset+octet-stream',
  ),
  REQUEST_CANCELLED: entry(
    400,
    'A request was ended because another request for the same upload asked for it',
    () => 'Request aborted due to lock acquired',
  ),
  TERMINATION_REFUSED: entry(
    400,
    'A DELETE of a completed upload, where termination of finished uploads is turned off',
    () => 'Cannot terminate an already completed upload',
  ),
  EXTENSION_UNSUPPORTED: entry<{ extension: string }>(
    501,
    'A request needs a tus extension this server does not offer',
    (p) => `The ${p.extension} extension is not supported`,
  ),

  // Concatenation (parallel uploads).
  FINAL_UPLOAD_READ_ONLY: entry(
    403,
    'A PATCH is sent to a final upload (tus: "MUST respond with the 403 Forbidden status")',
    () => 'A final upload (Upload-Concat: final) cannot be modified',
  ),
  FINAL_UPLOAD_WITH_LENGTH: entry(
    400,
    'A final upload is created with Upload-Length or Upload-Defer-Length',
    () => 'A final upload takes no Upload-Length: its length is the sum of its partial uploads',
  ),
  NOT_A_PARTIAL_URL: entry<{ url: string }>(
    400,
    'Upload-Concat: final lists a URL that is not an upload of this server',
    (p) => `Upload-Concat: ${JSON.stringify(p.url.slice(0, 200))} is not the URL of an upload on this server`,
  ),
  NO_PARTIALS: entry(
    400,
    'Upload-Concat: final lists no partial upload',
    () => 'Upload-Concat: final needs at least one partial upload URL',
  ),
  PARTIAL_NOT_FOUND: entry<{ id: string }>(
    404,
    'Upload-Concat: final lists an upload that does not exist',
    (p) => `Partial upload ${p.id} was not found`,
  ),
  NOT_A_PARTIAL_UPLOAD: entry<{ id: string }>(
    400,
    'Upload-Concat: final lists an upload that was not created as partial',
    (p) => `Upload ${p.id} is not a partial upload (Upload-Concat: partial)`,
  ),
  PARTIAL_NOT_COMPLETE: entry<{ id: string; offset: number; size: number | undefined }>(
    400,
    'Upload-Concat: final lists a partial upload that has not received all its bytes',
    (p) => `Partial upload ${p.id} is not complete (${p.offset} of ${p.size ?? '?'} bytes)`,
  ),
  GROUP_FULL: entry<{ most: number }>(
    400,
    'An upload is created in a group that has as many uploads as a group may have',
    (p) => `This group already has ${p.most} uploads, the most a group may have: use another group name`,
  ),
  FINAL_UPLOAD_TOO_LARGE: entry(
    413,
    "The partial uploads' lengths add up to more than the largest upload allowed",
    () => 'The final upload would exceed the maximum upload size',
  ),

  // Limits.
  UPLOAD_TOO_LARGE: entry(
    413,
    'Upload-Length is over MAX_SIZE_BYTES or what the chunk grid allows (100,000 chunks)',
    () => 'Maximum size exceeded',
  ),
  BODY_EXCEEDS_LENGTH: entry(413, "A body goes past the upload's Upload-Length", () => "upload's size exceeded"),
  OVER_SIZE_LIMIT: entry<{ length: number; limit: number }>(
    413,
    "An upload is larger than its owner's limit (OWNER_MAX_SIZE_BYTES or the token's upload_max_size)",
    (p) => `This upload is ${p.length} bytes; your uploads may be at most ${p.limit} bytes`,
  ),
  TOO_MANY_UPLOADS: entry<{ limit: number }>(
    429,
    'The owner already has as many unfinished uploads as OWNER_MAX_CONCURRENT_UPLOADS allows',
    (p) => `You have ${p.limit} unfinished uploads, the most allowed at once: finish or delete one, then retry`,
  ),
} as const;
