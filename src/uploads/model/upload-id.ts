import { randomUUID } from 'node:crypto';

/**
 * Upload IDs are random UUIDs in their canonical lowercase form. Anything else
 * is refused before it reaches a file path or a Redis key: no `/`, `\`, `..`,
 * NUL, or `{`/`}` that would move the key's cluster hash tag.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const newUploadId = (): string => randomUUID();

export const isUploadId = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** The cheat sheet names uploads `upload:<id>`; both spellings mean the same upload. */
export function parseUploadId(value: unknown): string | undefined {
  const id = typeof value === 'string' && value.startsWith('upload:') ? value.slice('upload:'.length) : value;
  return isUploadId(id) ? id : undefined;
}

/** A group links the parts of one file uploaded in parallel (Upload-Metadata `group`, chosen by the client). */
const GROUP = /^[A-Za-z0-9_-]{1,64}$/;
export const isGroupName = (value: unknown): value is string => typeof value === 'string' && GROUP.test(value);
