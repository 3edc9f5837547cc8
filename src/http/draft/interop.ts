import type { IncomingMessage } from 'node:http';
import { appError } from '../../errors/app-error.js';
import { INTEROP_VERSION_HEADER } from '../endpoint/headers.js';
import { INTEROP_VERSIONS, type InteropVersion, type VersionRules } from './versions.js';

/** The media type of an append's body from interop version 6 (draft -04: appends "MUST use" it). */
export const PARTIAL_UPLOAD = 'application/partial-upload';

/** The interop version a request names, when this server speaks it; undefined for any other. */
export function interopVersionOf(req: IncomingMessage): InteropVersion | undefined {
  const raw = String(req.headers[INTEROP_VERSION_HEADER]).trim();
  const version = Number(raw);
  return /^\d{1,3}$/.test(raw) && INTEROP_VERSIONS.includes(version as InteropVersion)
    ? (version as InteropVersion)
    : undefined;
}

/**
 * Whether a request is served as the draft's: it carries
 * Upload-Draft-Interop-Version. OPTIONS is the same for both protocols; a GET
 * is a download, unless it is an offset retrieval of version 9 or later
 * (-12: offset retrieval is "a HEAD or GET request").
 */
export function speaksDraft(req: IncomingMessage): boolean {
  if (req.headers[INTEROP_VERSION_HEADER] === undefined || req.method === 'OPTIONS') return false;
  if (req.method !== 'GET') return true;
  const version = interopVersionOf(req);
  return version !== undefined && version >= 9;
}

/** The completeness field of a response, for an upload that is (or is not) complete. */
export function completenessHeader(rules: VersionRules, complete: boolean): Record<string, string> {
  if (rules.completenessField === 'Upload-Incomplete') return { 'Upload-Incomplete': complete ? '?0' : '?1' };
  return { 'Upload-Complete': complete ? '?1' : '?0' };
}

/** RFC 8941 parameters after an item: `;key` or `;key=value`, any number of them. */
const PARAMETERS = /^(;\s*[a-z*][a-z0-9_.*-]*(=[^;]+)?)*$/;

/**
 * The draft's fields of one request, read as its version says: a value that
 * is not of its type is refused (400) up to version 7, and from 8 on (-09)
 * "MUST cause the entire header field to be ignored".
 */
export class DraftFields {
  constructor(
    private readonly req: IncomingMessage,
    private readonly rules: VersionRules,
  ) {}

  /** An sf-integer field (RFC 8941: up to 15 digits), non-negative as all of the draft's are; undefined when absent. */
  integer(name: string): number | undefined {
    const item = this.bareItem(name, 'a non-negative integer');
    if (item === undefined) return undefined;
    if (/^\d{1,15}$/.test(item)) return Number(item);
    return this.invalid(name, 'a non-negative integer');
  }

  /** An sf-boolean field (`?0` or `?1`); undefined when absent. */
  boolean(name: string): boolean | undefined {
    const item = this.bareItem(name, '?0 or ?1');
    if (item === undefined) return undefined;
    if (item === '?0' || item === '?1') return item === '?1';
    return this.invalid(name, '?0 or ?1');
  }

  /**
   * Whether this request's content is the end of the upload, or undefined if it
   * does not say. -01: complete with "the Upload-Incomplete header being
   * omitted or set to false"; -02 on: "An upload is considered complete only if
   * the server [...] received a [...] request with the Upload-Complete header
   * value set to true".
   */
  completes(): boolean | undefined {
    const value = this.boolean(this.rules.completenessField);
    if (value === undefined) return undefined;
    return this.rules.completenessField === 'Upload-Incomplete' ? !value : value;
  }

  /** The bare item of a structured field (RFC 8941 item: the value, then parameters, which are ignored). */
  private bareItem(name: string, expected: string): string | undefined {
    const raw = this.req.headers[name.toLowerCase()];
    if (raw === undefined) return undefined;
    const text = String(raw).trim();
    const cut = text.indexOf(';');
    const item = cut === -1 ? text : text.slice(0, cut).trim();
    if (cut !== -1 && !PARAMETERS.test(text.slice(cut))) return this.invalid(name, expected);
    return item;
  }

  private invalid(field: string, expected: string): undefined {
    if (this.rules.invalidFieldsIgnored) return undefined;
    throw appError('INVALID_FIELD', { field, expected });
  }
}

/** The media type of a Content-Type (type/subtype, lowercase, without parameters). */
export const mediaType = (req: IncomingMessage): string | undefined =>
  req.headers['content-type']?.split(';')[0]?.trim().toLowerCase() || undefined;
