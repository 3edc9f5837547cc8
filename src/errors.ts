/**
 * Errors a client can act on, each with a stable code. `status_code` and `body`
 * are the shape @tus/server sends for errors thrown inside the tus handlers, so
 * these errors answer correctly on the tus routes and on the JSON API alike.
 */
export class AppError extends Error {
  readonly status_code: number;
  readonly body: string;
  constructor(
    readonly code: ErrorCode,
    readonly status: number,
    message: string,
    /** Headers the response must carry (WWW-Authenticate on a 401). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.status_code = status;
    this.body = `${message}\n`;
  }
}

export type ErrorCode =
  | 'INVALID_UPLOAD_ID'
  | 'UPLOAD_NOT_FOUND'
  | 'INVALID_CHUNK_SIZE'
  | 'INVALID_REQUEST'
  | 'UPLOAD_FINALIZATION_FAILED'
  | 'UPLOAD_LOCKED'
  | 'STORAGE_FULL'
  | 'SHUTTING_DOWN'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'TOO_MANY_UPLOADS'
  | 'OVER_SIZE_LIMIT'
  | 'HOOK_REJECTED'
  | 'HOOK_UNAVAILABLE'
  | 'STATE_STORE_UNAVAILABLE'
  | 'NOT_FOUND'
  | 'INTERNAL';

export const invalidUploadId = () =>
  new AppError(
    'INVALID_UPLOAD_ID',
    400,
    'Invalid upload ID: expected a UUID such as 3f2c1a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60 (with or without the "upload:" prefix)',
  );

export const uploadNotFound = () =>
  new AppError('UPLOAD_NOT_FOUND', 404, 'No upload with this ID: it never existed, was deleted, or has expired');

export const stateStoreUnavailable = () =>
  new AppError('STATE_STORE_UNAVAILABLE', 503, 'Upload state is temporarily unavailable; retry shortly');
