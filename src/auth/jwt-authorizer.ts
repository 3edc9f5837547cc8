import { errors, importSPKI, type JWTPayload, jwtVerify } from 'jose';
import type { AuthConfig, OwnerLimits } from '../config/load-config.js';
import { type Authorizer, accessDenied } from './authorizer.js';

type JwtConfig = NonNullable<AuthConfig['jwt']>;

/**
 * Bearer tokens (JWT, verified by jose): `Authorization: Bearer <token>`, or
 * `?access_token=` where a client cannot set headers (EventSource, a download
 * link), as RFC 6750 allows. The token's `sub` is the caller; the claims
 * `upload_max_size` and `upload_max_concurrent` set their limits.
 */
export function jwtAuthorizer(config: JwtConfig): Authorizer {
  const key =
    'secret' in config.key
      ? Promise.resolve(new TextEncoder().encode(config.key.secret))
      : importSPKI(config.key.publicKeyPem, config.algorithm);
  key.catch(() => {}); // reported by the first request that needs it
  const options = { algorithms: [config.algorithm], issuer: config.issuer, audience: config.audience };

  return async (request) => {
    const token = bearerToken(request.headers.authorization, request.url);
    if (!token) throw accessDenied(401, 'This needs a bearer token: Authorization: Bearer <JWT>');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await key, options));
    } catch (error) {
      throw accessDenied(401, tokenProblem(error));
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') {
      throw accessDenied(401, 'The bearer token names no subject (sub)');
    }
    return { owner: payload.sub, limits: claimedLimits(payload) };
  };
}

/** RFC 9110: "the authentication scheme is case-insensitive" (`Bearer`, `bearer`, `BEARER`). */
export const BEARER = /^bearer +/i;

function bearerToken(header: string | undefined, url: string): string | undefined {
  if (header && BEARER.test(header)) return header.replace(BEARER, '').trim() || undefined;
  const query = url.indexOf('?');
  return query === -1 ? undefined : (new URLSearchParams(url.slice(query)).get('access_token') ?? undefined);
}

function tokenProblem(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The bearer token has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `The bearer token's ${error.claim} claim is not accepted`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The bearer token has an invalid signature';
  if (error instanceof errors.JOSEAlgNotAllowed)
    return "The bearer token is signed with an algorithm this server doesn't accept";
  return 'The bearer token is not a valid JWT';
}

function claimedLimits(payload: JWTPayload): Partial<OwnerLimits> {
  const limit = (value: unknown) =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const limits: { maxSizeBytes?: number; maxConcurrentUploads?: number } = {};
  const size = limit(payload.upload_max_size);
  const concurrent = limit(payload.upload_max_concurrent);
  if (size !== undefined) limits.maxSizeBytes = size;
  if (concurrent !== undefined) limits.maxConcurrentUploads = concurrent;
  return limits;
}
