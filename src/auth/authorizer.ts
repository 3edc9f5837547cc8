import type { IncomingHttpHeaders } from 'node:http';
import type { OwnerLimits } from '../config/load-config.js';
import { type AppError, appError, withHeaders } from '../errors/app-error.js';

/** What a request wants to do with an upload. */
export type AccessIntent = 'create' | 'resume' | 'read' | 'delete';

/** What an authorizer is asked: who is calling is in the headers; the upload's owner is what was recorded at its creation. */
export type AccessRequest = Readonly<{
  intent: AccessIntent;
  method: string;
  /** Path and query string, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The upload the request touches (undefined when creating). */
  uploadId: string | undefined;
  /** The owner recorded when the upload was created (undefined when creating, or when it was created without one). */
  owner: string | undefined;
  /** Who an earlier authorizer (the bearer token) found the caller to be. */
  subject: string | undefined;
}>;

/** An authorizer's answer when it lets a request through: who the caller is, and their limits if not the server's. */
export type AccessGrant = Readonly<{ owner?: string; limits?: Partial<OwnerLimits> }>;

/**
 * Decides whether a request may touch an upload; runs before any byte is
 * accepted. Throws `accessDenied(...)` (or any AppError) to refuse. The
 * server itself then refuses (403) a caller whose owner is not the upload's.
 */
export type Authorizer = (request: AccessRequest) => AccessGrant | Promise<AccessGrant>;

export type { Caller } from '../uploads/model/caller.js';

/** A refusal with the status and message the client sees (401 gets the WWW-Authenticate header RFC 6750 asks for). */
export function accessDenied(status: number, message: string): AppError {
  if (status === 401) {
    return withHeaders(appError('UNAUTHORIZED', { reason: message }), {
      // A header value may hold only visible ASCII here (a hook's message may not be): the body keeps it whole.
      'WWW-Authenticate': `Bearer realm="uploads", error="invalid_token", error_description="${message.replace(/[^\x20-\x7e]|["\\]/g, '')}"`,
    });
  }
  return status === 403
    ? appError('FORBIDDEN', { reason: message })
    : appError('HOOK_REJECTED', { status, reason: message });
}

/** Runs authorizers in order; each sees who the ones before found the caller to be, and may refine it. */
export function chainAuthorizers(authorizers: readonly Authorizer[]): Authorizer | undefined {
  if (authorizers.length === 0) return undefined;
  return async (request) => {
    let grant: AccessGrant = {};
    for (const authorize of authorizers) {
      const next = await authorize({ ...request, subject: grant.owner ?? request.subject });
      grant = { owner: next.owner ?? grant.owner, limits: { ...grant.limits, ...next.limits } };
    }
    return grant;
  };
}
