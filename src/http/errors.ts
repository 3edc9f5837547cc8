import type { ErrorRequestHandler, RequestHandler } from 'express';
import { type AppError, appError } from '../errors/app-error.js';
import type { Logger } from '../log.js';
import { isRedisUnavailable } from '../redis/client.js';
import { fromTusError } from './tus/tus-errors.js';

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
