import type { FetchConditions } from '../byte-store.js';

/** The entity tags of an If-Match or If-None-Match list (`*` stands alone), each with whether it is weak. */
function entityTags(header: string): { any: boolean; tags: { weak: boolean; tag: string }[] } {
  const tags = [...header.matchAll(/(W\/)?("[^"]*")/g)].map((m) => ({ weak: m[1] !== undefined, tag: m[2] as string }));
  return { any: header.trim() === '*', tags };
}

/** An HTTP date, or undefined when the header is not one (RFC 9110 §13.1.3: an invalid date is ignored). */
function validDate(header: string | undefined): Date | undefined {
  if (header === undefined) return undefined;
  const date = new Date(header);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** What the server decides itself from the blob's ETag, and the date conditions left to Azure. */
export type Evaluated = Readonly<
  | { answer: 304 }
  | { answer: 412 }
  | { answer: undefined; ifModifiedSince: Date | undefined; ifUnmodifiedSince: Date | undefined }
>;

/**
 * The conditions of a GET, in RFC 9110 §13.2.2's order, against a completed
 * blob's ETag (known from Redis; the blob never changes once committed).
 * Azure compares one ETag only, with no lists, no `*` on reads and no weak
 * comparison, so the ETag conditions are evaluated here: If-Match strongly
 * (412), If-None-Match weakly (304). The date conditions, which need the
 * blob's Last-Modified, go to Azure, each only where the ETag condition that
 * takes precedence over it is absent.
 */
export function evaluateConditions(conditions: FetchConditions, etag: string): Evaluated {
  if (conditions.ifMatch !== undefined) {
    const { any, tags } = entityTags(conditions.ifMatch);
    if (!any && !tags.some((t) => !t.weak && t.tag === etag)) return { answer: 412 };
  }
  if (conditions.ifNoneMatch !== undefined) {
    const { any, tags } = entityTags(conditions.ifNoneMatch);
    if (any || tags.some((t) => t.tag === etag)) return { answer: 304 };
  }
  return {
    answer: undefined,
    ifUnmodifiedSince: conditions.ifMatch === undefined ? validDate(conditions.ifUnmodifiedSince) : undefined,
    ifModifiedSince: conditions.ifNoneMatch === undefined ? validDate(conditions.ifModifiedSince) : undefined,
  };
}
