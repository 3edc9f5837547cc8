import { ERRORS } from '@tus/utils';
import { AppError, appError } from '../../errors/app-error.js';

/** An error in @tus/server's shape (its ERRORS, and what it writes itself). */
type TusError = { status_code: number; body: string };
const isTusError = (e: unknown): e is TusError =>
  typeof (e as TusError)?.status_code === 'number' && typeof (e as TusError)?.body === 'string';

/** @tus/utils' errors (thrown by @tus/server and @tus/file-store as these very objects), as the registry names them. */
const FROM_TUS = new Map<TusError, () => AppError>([
  [ERRORS.FILE_NOT_FOUND, () => appError('UPLOAD_NOT_FOUND')],
  [ERRORS.FILE_NO_LONGER_EXISTS, () => appError('UPLOAD_GONE')],
  [ERRORS.INVALID_OFFSET, () => appError('OFFSET_MISMATCH')],
  [ERRORS.MISSING_OFFSET, () => appError('OFFSET_REQUIRED')],
  [ERRORS.INVALID_CONTENT_TYPE, () => appError('CONTENT_TYPE_REQUIRED')],
  [ERRORS.INVALID_LENGTH, () => appError('INVALID_LENGTH')],
  [ERRORS.INVALID_METADATA, () => appError('INVALID_METADATA')],
  [ERRORS.ERR_SIZE_EXCEEDED, () => appError('BODY_EXCEEDS_LENGTH')],
  [ERRORS.ERR_MAX_SIZE_EXCEEDED, () => appError('UPLOAD_TOO_LARGE')],
  [ERRORS.ABORTED, () => appError('REQUEST_CANCELLED')],
  [ERRORS.INVALID_TERMINATION, () => appError('TERMINATION_REFUSED')],
  [ERRORS.UNSUPPORTED_CONCATENATION_EXTENSION, () => appError('EXTENSION_UNSUPPORTED', { extension: 'concatenation' })],
  [
    ERRORS.UNSUPPORTED_CREATION_DEFER_LENGTH_EXTENSION,
    () => appError('EXTENSION_UNSUPPORTED', { extension: 'creation-defer-length' }),
  ],
  [ERRORS.UNSUPPORTED_EXPIRATION_EXTENSION, () => appError('EXTENSION_UNSUPPORTED', { extension: 'expiration' })],
]);

/**
 * The registry's error for one of @tus/utils' errors; undefined for any other
 * (a failure, or a bug). @tus/utils' StreamLimiter (a body past what the
 * upload may take) throws an Error of its own, not one of ERRORS: it is
 * known by the status and body it carries.
 */
export function fromTusError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  const known = FROM_TUS.get(error as TusError);
  if (known) return known();
  if (error instanceof Error && isTusError(error) && error.body === ERRORS.ERR_MAX_SIZE_EXCEEDED.body) {
    return appError('BODY_EXCEEDS_LENGTH');
  }
  return undefined;
}

/**
 * What @tus/server answers by itself, without throwing (so without
 * onResponseError): 412 without Tus-Resumable, 400 for malformed tus headers,
 * 404 for a method it has no handler for.
 */
export function codeOfUnthrownTusError(status: number): AppError['code'] | undefined {
  if (status === 412) return 'TUS_RESUMABLE_REQUIRED';
  if (status === 400) return 'INVALID_HEADERS';
  if (status === 404) return 'NOT_FOUND';
  return undefined;
}
