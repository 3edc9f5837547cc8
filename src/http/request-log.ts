import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Query parameters that carry a secret (`?access_token=` for bearer tokens, `?token=` for the dashboard). */
const CREDENTIALS = new Set(['access_token', 'token']);

/** A URL as it may be logged: secrets in its query string are replaced, so logs never hold a usable token. */
function withoutCredentials(url: string): string {
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

const isEventStream = (res: { getHeader(name: string): unknown }) =>
  String(res.getHeader('content-type') ?? '').startsWith('text/event-stream');

declare module 'node:http' {
  interface IncomingMessage {
    /** The request's ID (X-Request-Id). */
    id?: string;
    /** Logs with the request's ID, method and URL. */
    log?: Logger;
  }
}

type Locals = { uploadId?: string; bytesStored?: number };

/**
 * One log line per request: request ID, method, URL, status, upload ID and
 * bytes stored when there are, and the duration, in the shape pino-http
 * gives (`req`, `res`, `responseTime`; "PATCH 204"), at error level for a 5xx,
 * info otherwise. A response that never finished (the client went away, or
 * its connection was cut) is "PATCH aborted", with `aborted: true`, and is
 * counted with the status `aborted`, never as the 200 Node presets: at warn,
 * but at info for an event stream, which ends that way. The request ID is the
 * caller's `X-Request-Id` when it is a sane token, a new UUID otherwise, and
 * is echoed in the response's `X-Request-Id`. `req.log` (a child logger with
 * the request) is made only when something logs through it. Also counts
 * requests by method and status.
 *
 * Written here rather than with pino-http, which builds a child logger and
 * serializes the request for every request whether or not anything but the
 * final line is logged (a measured 0.2 ms of CPU per request on small uploads).
 */
export function requestLogging(logger: Logger, metrics: Metrics): RequestHandler {
  const counters = new Map<string, { inc(): void }>();
  const count = (method: string, status: number | 'aborted') => {
    const key = `${method} ${status}`;
    let counter = counters.get(key);
    if (!counter) {
      counter = metrics.requests.labels({ method, status: String(status) });
      counters.set(key, counter);
    }
    counter.inc();
  };
  return (req, res, next) => {
    const started = performance.now();
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    req.id = id;
    const described = () => ({ id, method: req.method, url: withoutCredentials(req.originalUrl ?? req.url) });
    let child: Logger | undefined;
    Object.defineProperty(req, 'log', {
      configurable: true,
      get: () => {
        child ??= logger.child({ req: described() });
        return child;
      },
    });
    res.once('close', () => {
      const aborted = !res.writableFinished;
      count(req.method, aborted ? 'aborted' : res.statusCode);
      // A 5xx is the server's affair (error); a client that went away mid-request is its own (warn), except from an
      // event stream, which ends no other way.
      const level = res.statusCode >= 500 ? 'error' : !aborted || isEventStream(res) ? 'info' : 'warn';
      if (!logger.isLevelEnabled(level)) return;
      const { uploadId, bytesStored } = res.locals as Locals;
      logger[level](
        {
          req: described(),
          // The status sent, if one was; before the headers went out, Node's preset 200 means nothing.
          res: { statusCode: res.headersSent ? res.statusCode : undefined },
          responseTime: Math.round(performance.now() - started),
          uploadId,
          bytesStored,
          ...(aborted ? { aborted: true } : {}),
        },
        `${req.method} ${aborted ? 'aborted' : res.statusCode}`,
      );
    });
    next();
  };
}
