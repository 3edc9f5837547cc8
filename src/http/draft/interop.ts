import type { IncomingMessage } from 'node:http';
import { appError } from '../../errors/app-error.js';

/**
 * The interop versions of draft-ietf-httpbis-resumable-upload this server
 * speaks: 3 (draft -01, iOS 17), 4 (-02), 5 (-03, iOS 18.0, tus-js-client
 * 'ietf-draft-03') and 6 (-04 and -05, iOS 18.1+, tus-js-client 'ietf-draft-05').
 */
export const INTEROP_VERSIONS = [3, 4, 5, 6] as const;
export type InteropVersion = (typeof INTEROP_VERSIONS)[number];

export const INTEROP_VERSION_HEADER = 'upload-draft-interop-version';

/** The fields of the draft a browser must be allowed to send (CORS)… */
export const DRAFT_REQUEST_HEADERS = ['Upload-Draft-Interop-Version', 'Upload-Complete', 'Upload-Incomplete'];
/** …and to read. */
export const DRAFT_RESPONSE_HEADERS = [
  'Upload-Draft-Interop-Version',
  'Upload-Complete',
  'Upload-Incomplete',
  'Upload-Limit',
];

/** The media type of an append's body from interop version 6 (draft -04: appends "MUST use" it). */
export const PARTIAL_UPLOAD = 'application/partial-upload';

/** The interop version a request asks for. Any value but 3, 4, 5 or 6 is refused (and gets no 104). */
export function interopVersionOf(req: IncomingMessage): InteropVersion {
  const raw = String(req.headers[INTEROP_VERSION_HEADER]).trim();
  const version = Number(raw);
  if (!/^\d{1,3}$/.test(raw) || !INTEROP_VERSIONS.includes(version as InteropVersion)) {
    throw appError('INTEROP_VERSION_UNSUPPORTED', { version: raw, supported: INTEROP_VERSIONS });
  }
  return version as InteropVersion;
}

/** The field that says whether a request ends the upload: v3 says it inverted, as Upload-Incomplete. */
export const completenessField = (version: InteropVersion) => (version === 3 ? 'Upload-Incomplete' : 'Upload-Complete');

/**
 * Whether this request's content is the end of the upload, or undefined if it
 * does not say. v3 (-01): complete with "the Upload-Incomplete header being
 * omitted or set to false". v4+ (-02): "An upload is considered complete only
 * if the server [...] received a [...] request with the Upload-Complete header
 * value set to true".
 */
export function requestCompletes(req: IncomingMessage, version: InteropVersion): boolean | undefined {
  const value = sfBoolean(req, completenessField(version));
  if (value === undefined) return undefined;
  return version === 3 ? !value : value;
}

/** The completeness field of a response, for an upload that is (or is not) complete. */
export function completenessHeader(version: InteropVersion, complete: boolean): Record<string, string> {
  if (version === 3) return { 'Upload-Incomplete': complete ? '?0' : '?1' };
  return { 'Upload-Complete': complete ? '?1' : '?0' };
}

/** RFC 8941 parameters after an item: `;key` or `;key=value`, any number of them. */
const PARAMETERS = /^(;\s*[a-z*][a-z0-9_.*-]*(=[^;]+)?)*$/;

/** The bare item of a structured field (RFC 8941 item: the value, then parameters, which are ignored); undefined when absent. */
function bareItem(req: IncomingMessage, name: string, expected: string): string | undefined {
  const raw = req.headers[name.toLowerCase()];
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const cut = text.indexOf(';');
  const item = cut === -1 ? text : text.slice(0, cut).trim();
  if (cut !== -1 && !PARAMETERS.test(text.slice(cut))) throw appError('INVALID_FIELD', { field: name, expected });
  return item;
}

/** An sf-integer field (RFC 8941: up to 15 digits), non-negative as all of the draft's are; undefined when absent. */
export function sfInteger(req: IncomingMessage, name: string): number | undefined {
  const expected = 'a non-negative integer';
  const item = bareItem(req, name, expected);
  if (item === undefined) return undefined;
  if (!/^\d{1,15}$/.test(item)) throw appError('INVALID_FIELD', { field: name, expected });
  return Number(item);
}

/** An sf-boolean field (`?0` or `?1`); undefined when absent. */
export function sfBoolean(req: IncomingMessage, name: string): boolean | undefined {
  const expected = '?0 or ?1';
  const item = bareItem(req, name, expected);
  if (item === undefined) return undefined;
  if (item !== '?0' && item !== '?1') throw appError('INVALID_FIELD', { field: name, expected });
  return item === '?1';
}

/** The media type of a Content-Type (type/subtype, lowercase, without parameters). */
export const mediaType = (req: IncomingMessage): string | undefined =>
  req.headers['content-type']?.split(';')[0]?.trim().toLowerCase() || undefined;

/**
 * Upload-Limit (draft -04, a Dictionary): "If the server does not apply any
 * limits, it MUST use min-size=0 instead of an empty header value". `maxSize`
 * is the largest upload this server takes (always finite: the chunk grid
 * bounds it).
 */
export const uploadLimit = (maxSize: number): string => `min-size=0, max-size=${maxSize}`;
