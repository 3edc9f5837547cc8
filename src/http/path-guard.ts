import type { RequestHandler } from 'express';
import { appError } from '../errors/app-error.js';

/** A `.` or `..` segment, also percent-encoded (`%2e`); a backslash is a separator to the WHATWG URL parser. */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * Refuses paths with dot segments before any route sees them. Express routes
 * (and the access check) match the path as received, but @tus/server acts on
 * the URL as the WHATWG parser normalizes it: `/files/x/../<id>` would be no
 * upload to the former and `<id>` to the latter, which let a request past the
 * owner check. Clients never send such paths (they normalize them first).
 */
export const refuseDotSegments: RequestHandler = (req, _res, next) => {
  const path = (req.url ?? '/').split('?', 1)[0] as string;
  if (
    path
      .replaceAll('\\', '/')
      .split('/')
      .some((segment) => DOT_SEGMENT.test(segment))
  ) {
    next(appError('DOT_SEGMENTS'));
    return;
  }
  next();
};

/**
 * Refuses paths whose percent-encoding does not decode (`%ff`, a cut
 * `%E0%A4%A`) before a route tries: on the upload endpoint they name no upload
 * (404, as any other upload URL that is no UUID), elsewhere they are a 400.
 */
export function refuseMalformedPaths(tusPath: string): RequestHandler {
  return (req, _res, next) => {
    const path = (req.url ?? '/').split('?', 1)[0] as string;
    try {
      decodeURIComponent(path);
    } catch {
      const onEndpoint = path === tusPath || path.startsWith(`${tusPath}/`);
      next(appError(onEndpoint ? 'NOT_AN_UPLOAD_URL' : 'MALFORMED_PATH'));
      return;
    }
    next();
  };
}
