import type { IncomingMessage, ServerResponse } from 'node:http';
import { EXPOSED_HEADERS, TUS_RESUMABLE } from '@tus/utils';
import type { Config } from '../../config/load-config.js';
import type { Logger } from '../../log.js';
import { errorHeaders, toAppError } from '../errors.js';

/** Request bodies up to this size are read and dropped after an early error; a larger one closes the connection instead. */
const DRAINED_BODY_BYTES = 64 * 1024;

/**
 * Headers for the responses this server writes itself on the tus routes (GET,
 * final uploads, early errors), the same as @tus/server puts on its own: CORS
 * (which stock @tus/server leaves off GET) and Tus-Resumable.
 */
export function tusResponseHeaders(req: IncomingMessage, config: Config): Record<string, string> {
  return {
    'Tus-Resumable': TUS_RESUMABLE,
    ...corsHeaders(req, config, `${EXPOSED_HEADERS}, Content-Disposition, Content-Range, Accept-Ranges`),
  };
}

/** CORS for a response of the tus routes: the origin allowed, and the headers a browser may read (`exposed`). */
export function corsHeaders(req: IncomingMessage, config: Config, exposed: string): Record<string, string> {
  const headers: Record<string, string> = { 'Access-Control-Expose-Headers': exposed };
  const origin = allowedOrigin(req.headers.origin, config.server.corsOrigins);
  if (origin) headers['Access-Control-Allow-Origin'] = origin;
  return headers;
}

/**
 * Answers a tus request with an error before (or instead of) @tus/server:
 * the same headers it would send, the error's own (WWW-Authenticate), and the
 * message as text. The body is not read: a small one is drained so the
 * connection can be reused, a large one ends with the connection.
 */
export function sendTusError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  config: Config,
  logger: Logger,
): void {
  const e = toAppError(error, logger);
  settleUnreadBody(req, res);
  if (!res.headersSent) {
    res.writeHead(e.status_code, {
      ...tusResponseHeaders(req, config),
      ...errorHeaders(e),
      'Content-Type': 'text/plain; charset=utf-8',
    });
  }
  res.end(e.body);
}

/**
 * Before an answer to a request whose body was not read: a small body is
 * drained so the connection can be reused, a large one ends with the connection.
 */
export function settleUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return;
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && Number(req.headers['content-length'] ?? 0) <= DRAINED_BODY_BYTES) req.resume();
  else if (!res.headersSent) res.setHeader('Connection', 'close');
}

/** As @tus/server decides it: any origin when none is configured, else the request's if listed, else the first listed. */
function allowedOrigin(origin: string | undefined, allowed: readonly string[]): string | undefined {
  if (allowed.length === 0 || allowed.includes('*')) return '*';
  if (origin && allowed.includes(origin)) return origin;
  return allowed[0];
}

/** The scheme and host clients use to reach this server, as @tus/server builds its Location. */
export function publicOrigin(req: IncomingMessage, config: Config): { proto: string; host: string | undefined } {
  let proto: string | undefined;
  let host: string | undefined;
  if (config.server.trustProxy) {
    const forwarded = header(req, 'forwarded');
    host = forwarded && /host="?([^";]+)/.exec(forwarded)?.[1];
    proto = forwarded && /proto=(https?)/.exec(forwarded)?.[1];
    const xfProto = header(req, 'x-forwarded-proto');
    if (!proto && (xfProto === 'http' || xfProto === 'https')) proto = xfProto;
    host ??= header(req, 'x-forwarded-host');
  }
  return { proto: proto ?? 'http', host: host ?? header(req, 'host') };
}

/** The URL of upload `id`, as @tus/server would give it in Location. */
export function uploadUrl(req: IncomingMessage, id: string, config: Config): string {
  if (config.server.relativeLocation) return `${config.server.tusPath}/${id}`;
  const { proto, host } = publicOrigin(req, config);
  return `${proto}://${host}${config.server.tusPath}/${id}`;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};
