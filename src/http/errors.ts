import { ERRORS } from '@tus/utils';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, appError } from '../errors/app-error.js';
import type { Logger } from '../log.js';
import { isRedisUnavailable } from '../redis/client.js';

/** An error in @tus/server's shape (its ERRORS). */
type TusError = { status_code: number; body: string };

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

/** The registry's error for one of @tus/utils' errors, or an AppError; undefined for any other (a failure, or a bug). */
function fromTusError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  return FROM_TUS.get(error as TusError)?.();
}

/** The response header naming the error's code (the JSON API also has it in its body). */
export const ERROR_CODE_HEADER = 'X-Error-Code';

/**
 * The one translation from any error to what a client is told. Errors of the
 * registry keep their status and message; Redis being unavailable is a 503;
 * anything else becomes a logged 500 whose body says nothing of the internals.
 */
export function toAppError(error: unknown, logger: Logger): AppError {
  const known = fromTusError(error);
  if (known) return known;
  if (isRedisUnavailable(error)) {
    logger.warn({ err: error }, 'redis unavailable');
    return appError('STATE_STORE_UNAVAILABLE');
  }
  // http-errors, as thrown by Express's body parsers and sendFile: client errors with a message meant for clients.
  const http = error as { type?: string; status?: number; expose?: boolean; message?: string };
  if (http.expose === true && typeof http.status === 'number' && http.status >= 400 && http.status < 500) {
    return fromHttpError(http.status, http.type, http.message ?? 'bad request');
  }
  logger.error({ err: error }, 'unexpected error');
  return appError('INTERNAL');
}

function fromHttpError(status: number, type: string | undefined, reason: string): AppError {
  if (type === 'entity.parse.failed') return appError('INVALID_REQUEST');
  if (status === 413) return appError('BODY_TOO_LARGE');
  if (status === 415) return appError('UNSUPPORTED_BODY_ENCODING', { reason });
  if (status === 416) return appError('RANGE_NOT_SATISFIABLE');
  if (status === 412) return appError('PRECONDITION_FAILED');
  if (status === 404) return appError('UPLOAD_NOT_FOUND');
  return appError('UNREADABLE_BODY', { reason });
}

/** Headers every error response carries: its code, Retry-After on a 503, and the error's own. */
export function errorHeaders(e: AppError): Record<string, string> {
  return { ...e.headers, [ERROR_CODE_HEADER]: e.code, ...(e.status === 503 ? { 'Retry-After': '1' } : {}) };
}

export function jsonErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const e = toAppError(error, req.log ?? logger);
    res.set(errorHeaders(e));
    res.status(e.status).json({ error: { code: e.code, message: e.message, requestId: req.id } });
  };
}

export const notFound: RequestHandler = (req) => {
  throw appError('NOT_FOUND', { method: req.method, path: req.path });
};
