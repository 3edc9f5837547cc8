import type { IncomingMessage } from 'node:http';
import { Metadata, TUS_RESUMABLE } from '@tus/utils';
import type { RequestHandler } from 'express';
import type { Config } from '../../config/load-config.js';
import { appError, withHeaders } from '../../errors/app-error.js';
import type { Logger } from '../../log.js';
import { uploadIdFromPath } from '../endpoint/upload-path.js';
import { sendTusError } from './tus-headers.js';

/** The methods a tus client may ask for through X-HTTP-Method-Override. */
const TUS_METHODS = new Set(['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * tus 1.0: "The X-HTTP-Method-Override request header MUST be a string which
 * MUST be interpreted as the request's method by the Server, if the header is
 * presented." (tus-js-client's overridePatchMethod sends a PATCH as POST.)
 * Mounted before every tus route, downloads included, so each one sees the
 * method the client meant.
 */
export function methodOverride(config: Config, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const header = req.headers['x-http-method-override'];
    if (header === undefined) return next();
    const method = String(header).trim().toUpperCase();
    if (!TUS_METHODS.has(method)) {
      return sendTusError(
        req,
        res,
        appError('METHOD_OVERRIDE_UNSUPPORTED', { method: String(header) }),
        config,
        logger,
      );
    }
    req.method = method;
    next();
  };
}

/**
 * The tus 1.0 rules checked before a request is served, by @tus/server or by
 * our procedures. Throws the error to answer with; nothing has been read or
 * written yet.
 */
export function checkTusRequest(req: IncomingMessage, pathname: string, tusPath: string): void {
  const method = req.method ?? 'GET';
  const version = req.headers['tus-resumable'];
  if (method === 'OPTIONS') return;
  // tus: "The Tus-Resumable header MUST be included in every request and response except for OPTIONS requests"
  // (a GET is a download, which any HTTP client may ask for).
  if (version === undefined && method !== 'GET') {
    throw withHeaders(appError('TUS_RESUMABLE_REQUIRED'), { 'Tus-Version': TUS_RESUMABLE });
  }
  if (version !== undefined && version !== TUS_RESUMABLE) {
    // tus: "If the version specified by the Client is not supported by the Server, it MUST respond with the
    // 412 Precondition Failed status and MUST include the Tus-Version header into the response."
    throw withHeaders(appError('TUS_VERSION_UNSUPPORTED', { version: String(version) }), {
      'Tus-Version': TUS_RESUMABLE,
    });
  }
  if ((method === 'HEAD' || method === 'PATCH' || method === 'DELETE') && !uploadIdFromPath(pathname, tusPath)) {
    // tus: "If the resource is not found, the Server SHOULD return either the 404 Not Found, 410 Gone or
    // 403 Forbidden status without the Upload-Offset header." An ID that is no UUID never reaches Redis or the disk.
    throw appError('NOT_AN_UPLOAD_URL');
  }
  if (method === 'PATCH' && req.headers['content-type'] !== 'application/offset+octet-stream') {
    // tus: "All PATCH requests MUST use Content-Type: application/offset+octet-stream, otherwise the server
    // SHOULD return a 415 Unsupported Media Type status."
    throw appError('CONTENT_TYPE_REQUIRED');
  }
  if (method === 'GET') return;
  const invalid = Object.keys(TUS_HEADER_VALUES).filter((name) => {
    const value = req.headers[name];
    return value !== undefined && !TUS_HEADER_VALUES[name]?.(String(value));
  });
  if (invalid.length > 0) throw appError('INVALID_HEADERS', { names: invalid.join(' ') });
}

const nonNegativeInteger = (value: string) => /^(0|[1-9]\d{0,15})$/.test(value) && Number.isSafeInteger(Number(value));

/**
 * What tus 1.0 says each of its request headers holds (as @tus/server checks
 * them): "The value MUST be a non-negative integer" (Upload-Offset,
 * Upload-Length); "Its value MUST be 1" (Upload-Defer-Length); Upload-Metadata
 * "MUST consist of one or more comma-separated key-value pairs"; Upload-Concat
 * is `partial` or `final;` and URLs.
 */
const TUS_HEADER_VALUES: Readonly<Record<string, (value: string) => boolean>> = {
  'upload-offset': nonNegativeInteger,
  'upload-length': nonNegativeInteger,
  'upload-defer-length': (value) => value === '1',
  'upload-metadata': (value) => {
    try {
      Metadata.parse(value);
      return true;
    } catch {
      return false;
    }
  },
  'upload-concat': (value) => value === 'partial' || value.startsWith('final;'),
  'x-forwarded-proto': (value) => value === 'http' || value === 'https',
  'tus-version': (value) => value === TUS_RESUMABLE,
};
