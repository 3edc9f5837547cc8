import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, stateStoreUnavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { isRedisUnavailable } from '../redis/client.js';

/** An error in @tus/server's shape (its ERRORS, and errors thrown into its handlers). */
export type TusError = { status_code: number; body: string };
export const isTusError = (e: unknown): e is TusError =>
  typeof (e as TusError)?.status_code === 'number' && typeof (e as TusError)?.body === 'string';

/**
 * The one translation from any error to what a client is told. Known errors
 * keep their status and message; anything else becomes a logged 500 whose body
 * says nothing of the internals.
 */
export function toAppError(error: unknown, logger: Logger): AppError {
  if (error instanceof AppError) return error;
  if (isRedisUnavailable(error)) {
    logger.warn({ err: error }, 'redis unavailable');
    return stateStoreUnavailable();
  }
  // http-errors, as thrown by Express's body parsers and sendFile: client errors with a message meant for clients.
  const http = error as { type?: string; status?: number; expose?: boolean; message?: string };
  if (http.type === 'entity.parse.failed') {
    return new AppError('INVALID_REQUEST', 400, 'The request body is not valid JSON');
  }
  if (http.expose === true && typeof http.status === 'number' && http.status >= 400 && http.status < 500) {
    return new AppError('INVALID_REQUEST', http.status, http.message ?? 'Bad request');
  }
  logger.error({ err: error }, 'unexpected error');
  return new AppError('INTERNAL', 500, 'Internal server error');
}

export function jsonErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const e = toAppError(error, req.log ?? logger);
    if (e.status === 503) res.setHeader('Retry-After', '1');
    res.set(e.headers);
    res.status(e.status).json({ error: { code: e.code, message: e.message, requestId: req.id } });
  };
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'NOT_FOUND', message: `No route for ${req.method} ${req.path}` } });
};
