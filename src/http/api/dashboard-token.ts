import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { BEARER } from '../../auth/jwt-authorizer.js';
import { appError } from '../../errors/app-error.js';

/**
 * The uploads list and the all-uploads stream show other people's filenames:
 * they need the dashboard token (`Authorization: Bearer <token>`, or
 * `?token=` for EventSource, which cannot set headers). Without a configured
 * token they are off (404), never open by accident.
 */
export function requireDashboardToken(token: string | undefined): RequestHandler {
  const expected = token === undefined ? undefined : Buffer.from(token);
  return (req, res, next) => {
    if (!expected) {
      throw appError('DASHBOARD_OFF');
    }
    const header = req.headers.authorization;
    const given = header && BEARER.test(header) ? header.replace(BEARER, '') : req.query.token;
    const candidate = typeof given === 'string' ? Buffer.from(given) : Buffer.alloc(0);
    if (candidate.length !== expected.length || !timingSafeEqual(candidate, expected)) {
      res.set('WWW-Authenticate', 'Bearer realm="uploads"');
      throw appError('DASHBOARD_TOKEN_REQUIRED');
    }
    next();
  };
}
