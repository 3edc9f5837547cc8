import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Query parameters that carry a secret (`?access_token=` for bearer tokens, `?token=` for the dashboard). */
const CREDENTIALS = new Set(['access_token', 'token']);

/** A URL as it may be logged: secrets in its query string are replaced, so logs never hold a usable token. */
export function withoutCredentials(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return url;
  // Each parameter's name as the server reads it (decoded: `access%5Ftoken` is access_token too).
  const parts = url
    .slice(query + 1)
    .split('&')
    .map((part) => {
      const name = part.split('=', 1)[0] as string;
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replaceAll('+', ' '));
      } catch {}
      return CREDENTIALS.has(decoded.toLowerCase()) ? `${name}=[redacted]` : part;
    });
  return `${url.slice(0, query)}?${parts.join('&')}`;
}

/**
 * One log line per request (pino-http): request ID, method, URL, status,
 * upload ID and bytes stored when there are, and the duration. The request
 * ID is the caller's `X-Request-Id` when it is a sane token, a new UUID
 * otherwise, and is echoed in the response's `X-Request-Id`. Also counts
 * requests by method and status.
 */
export function requestLogging(logger: Logger, metrics: Metrics): RequestHandler {
  const log = pinoHttp({
    logger,
    genReqId: (req, res) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${res.statusCode}`,
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        url: withoutCredentials(req.url),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customProps: (_req, res) => {
      const locals = (res as { locals?: { uploadId?: string; bytesStored?: number } }).locals ?? {};
      return { uploadId: locals.uploadId, bytesStored: locals.bytesStored };
    },
  });
  return (req, res, next) => {
    res.once('close', () => metrics.requests.inc({ method: req.method, status: String(res.statusCode) }));
    log(req, res, next);
  };
}
