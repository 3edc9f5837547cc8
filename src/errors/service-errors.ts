import { entry } from './entry.js';

/** Errors of who may do what, of what cannot be served right now (retry), and of the server itself. */
export const SERVICE_ERRORS = {
  // Who may do what.
  UNAUTHORIZED: entry<{ reason: string }>(
    401,
    'No bearer token, or one that does not verify; or an authorizer refused with 401',
    (p) => p.reason,
  ),
  FORBIDDEN: entry<{ reason: string }>(
    403,
    "The caller is not the upload's owner; or an authorizer refused with 403",
    (p) => p.reason,
  ),
  DASHBOARD_TOKEN_REQUIRED: entry(
    401,
    'The uploads list or the all-uploads stream is asked for without the dashboard token',
    () => 'This needs the dashboard token: Authorization: Bearer <DASHBOARD_TOKEN>',
  ),
  HOOK_REJECTED: entry<{ status: number; reason: string }>(
    (p) => p.status,
    'A pre-request or pre-create hook (or an in-process authorizer) refused, with its own status (4xx or 5xx) and message',
    (p) => p.reason,
  ),
  HOOK_UNAVAILABLE: entry<{ hook: string; why: string }>(
    503,
    'A hook could not be reached or did not answer within HOOK_TIMEOUT_MS (the request is refused: fail closed)',
    (p) => `The ${p.hook} hook is unavailable (${p.why}); retry shortly`,
  ),
  HOOK_ANSWER_INVALID: entry<{ problem: string }>(
    502,
    'A hook allowed the request with a body the server cannot use',
    (p) => p.problem,
  ),

  // The server cannot serve this now; retry.
  TOO_MANY_STREAMS: entry<{ most: number }>(
    429,
    'A client already holds as many live-update streams open as EVENT_STREAMS_PER_CLIENT allows',
    (p) => `This client has ${p.most} live-update streams open, the most allowed at once: close one, then retry`,
  ),
  STREAMS_FULL: entry<{ most: number }>(
    503,
    'This instance already holds as many live-update streams open as EVENT_STREAMS_PER_INSTANCE allows',
    (p) => `This server holds ${p.most} live-update streams, the most it takes: retry shortly, or on another instance`,
  ),
  UPLOAD_LOCKED: entry(
    423,
    'Another request holds the upload and did not let go within LOCK_ACQUIRE_TIMEOUT_MS',
    () => 'The upload is busy with another request; retry shortly',
  ),
  REQUEST_SUPERSEDED: entry<{ stored: number }>(
    423,
    'Another request for the upload took it over while this one was sending its body (a client resuming, on this instance or another); what arrived before is kept',
    (p) => `Another request took this upload over; ${p.stored} bytes of this body were stored. Ask HEAD for the offset`,
  ),
  LOCK_LOST: entry(
    423,
    'This instance could not renew its hold on the upload in time and stopped writing (what it stored is kept)',
    () => 'The upload lock was lost; retry shortly',
  ),
  STORAGE_FULL: entry(
    507,
    "The disk holding the uploads' bytes is full",
    () => "The server's upload storage is full; the bytes received so far are kept, retry later",
  ),
  STORAGE_UNAVAILABLE: entry(
    503,
    'The byte store (S3, Azure) does not answer within S3_REQUEST_TIMEOUT_MS (AZURE_REQUEST_TIMEOUT_MS), is unreachable, or refuses this server; what it acknowledged is kept',
    () => 'Upload storage is temporarily unavailable; the bytes stored so far are kept, retry shortly',
  ),
  STATE_STORE_UNAVAILABLE: entry(
    503,
    'Redis does not answer in time, refuses writes (out of memory, read-only replica), or is loading',
    () => 'Upload state is temporarily unavailable; retry shortly',
  ),
  SHUTTING_DOWN: entry(
    503,
    'The instance is shutting down (SIGTERM); another instance or a restart serves the retry',
    () => 'This server is shutting down; retry shortly',
  ),

  // The server failed.
  UPLOAD_FINALIZATION_FAILED: entry(
    500,
    'Every byte was stored but the completed upload could not be finished (its digest could not be computed); the upload is marked failed',
    () => 'The upload was stored but could not be finalized',
  ),
  CONCATENATION_FAILED: entry(
    500,
    'The partial uploads could not be copied into the final upload; the final upload is marked failed',
    () => 'The partial uploads could not be concatenated',
  ),
  INTERNAL: entry(
    500,
    'Anything unexpected (logged with its stack under the request ID; the body says nothing of the internals)',
    () => 'Internal server error',
  ),
} as const;
