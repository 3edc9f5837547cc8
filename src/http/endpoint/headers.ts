import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config/load-config.js';

/** The IETF draft's field naming its interop version: a request that carries it speaks the draft. */
export const INTEROP_VERSION_HEADER = 'upload-draft-interop-version';

/** The fields of the draft a browser must be allowed to send to the endpoint (CORS)… */
export const DRAFT_REQUEST_HEADERS = ['Upload-Draft-Interop-Version', 'Upload-Complete', 'Upload-Incomplete'];
/** …and to read. */
export const DRAFT_RESPONSE_HEADERS = [
  'Upload-Draft-Interop-Version',
  'Upload-Complete',
  'Upload-Incomplete',
  'Upload-Limit',
];

/**
 * Upload-Limit (draft -04, a Dictionary): "If the server does not apply any
 * limits, it MUST use min-size=0 instead of an empty header value". `maxSize`
 * is the largest upload this server takes (always finite: the chunk grid
 * bounds it); `maxAgeSeconds`, the upload's remaining lifetime (-06: the
 * `max-age` key, which replaced -05's `expires`).
 */
export function uploadLimit(maxSize: number, maxAgeSeconds?: number): string {
  const limit = `min-size=0, max-size=${maxSize}`;
  return maxAgeSeconds === undefined ? limit : `${limit}, max-age=${maxAgeSeconds}`;
}

/** Request bodies up to this size are read and dropped after an early error; a larger one closes the connection instead. */
const DRAINED_BODY_BYTES = 64 * 1024;

/** CORS for a response of the upload endpoint: the origin allowed, and the headers a browser may read (`exposed`). */
export function corsHeaders(req: IncomingMessage, config: Config, exposed: string): Record<string, string> {
  const headers: Record<string, string> = { 'Access-Control-Expose-Headers': exposed };
  const origin = allowedOrigin(req.headers.origin, config.server.corsOrigins);
  if (origin) headers['Access-Control-Allow-Origin'] = origin;
  return headers;
}

/** As @tus/server decides it: any origin when none is configured, else the request's if listed, else the first listed. */
function allowedOrigin(origin: string | undefined, allowed: readonly string[]): string | undefined {
  if (allowed.length === 0 || allowed.includes('*')) return '*';
  if (origin && allowed.includes(origin)) return origin;
  return allowed[0];
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
