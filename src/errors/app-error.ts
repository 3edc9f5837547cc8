import { ERROR_REGISTRY, type ErrorCode, type ErrorParams } from './registry.js';

/**
 * An error a client can act on: a code of the registry, its status, and its
 * message. `status_code` and `body` are the shape @tus/server sends for errors
 * thrown inside its handlers, so these answer the same on the tus routes and
 * on the JSON API.
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

/** The error of the registry named `code`, with its parameters. */
export function appError<C extends ErrorCode>(code: C, ...params: ErrorParams<C>): AppError {
  const entry = ERROR_REGISTRY[code] as {
    status: number | ((p: unknown) => number);
    message: (p: unknown) => string;
  };
  const status = typeof entry.status === 'function' ? entry.status(params[0]) : entry.status;
  return new AppError(code, status, entry.message(params[0]));
}

/** The same error with headers the response must carry. */
export function withHeaders(error: AppError, headers: Readonly<Record<string, string>>): AppError {
  return new AppError(error.code, error.status, error.message, { ...error.headers, ...headers });
}
