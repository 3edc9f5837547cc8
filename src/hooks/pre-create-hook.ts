import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { appError } from '../errors/app-error.js';
import { askHook } from './hook-call.js';

/** The upload about to be created, as the pre-create hook sees it. */
export type PreCreateRequest = Readonly<{
  upload: Readonly<{
    id: string | undefined;
    /** Upload-Length; undefined when deferred, or for a final upload (the sum of its partials). */
    size: number | undefined;
    metadata: Record<string, string | null>;
    owner: string | undefined;
    /** Upload-Concat: `partial`, `final`, or undefined for an ordinary upload. */
    concat: 'partial' | 'final' | undefined;
  }>;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}>;

/** Metadata to create the upload with instead of the client's; nothing to keep it. */
export type PreCreateResult = { metadata?: Record<string, string | null> } | undefined;

/**
 * Runs before an upload is created (before any record, file or byte). Throw
 * `preCreateRefusal(status, message)` (or any AppError) to refuse with what
 * the client should see; return `{ metadata }` to change the metadata.
 */
export type PreCreateHook = (request: PreCreateRequest) => PreCreateResult | Promise<PreCreateResult>;

export const preCreateRefusal = (status: number, message: string) =>
  appError('HOOK_REJECTED', { status, reason: message });

/** tus: metadata keys "MUST NOT contain spaces and commas and MUST NOT be empty". */
const metadataSchema = z.record(
  z.string().regex(/^[^\s,]+$/, 'a metadata key must be non-empty, without spaces or commas'),
  z
    .string()
    .max(64 * 1024)
    .nullable(),
);
const answerSchema = z.object({ metadata: metadataSchema.optional() }).optional();

/** PRE_CREATE_HOOK_URL: POSTs the PreCreateRequest; 2xx allows (with `{ "metadata": {...} }` to change it), anything else refuses. */
export function preCreateWebhook(url: string, timeoutMs: number): PreCreateHook {
  const hook = {
    url,
    timeoutMs,
    name: 'pre-create',
    schema: answerSchema,
    unreadable: 'The pre-create hook answered with invalid metadata',
  };
  return (request) => askHook(hook, request, preCreateRefusal);
}

/**
 * Runs the hook (if any) on an upload about to be created; returns the
 * metadata to create it with. Both creation paths (@tus/server's POST and the
 * final upload of a concatenation) come through here.
 */
export async function metadataFromPreCreate(
  hook: PreCreateHook | undefined,
  request: PreCreateRequest,
  metadata: Record<string, string | null> | undefined,
): Promise<Record<string, string | null> | undefined> {
  if (!hook) return metadata;
  return metadataAfterHook(await hook(request), metadata);
}

/** What the hook decided the metadata is; the client's when it said nothing. Checks what an in-process hook returned too. */
function metadataAfterHook(
  result: PreCreateResult,
  metadata: Record<string, string | null> | undefined,
): Record<string, string | null> | undefined {
  if (!result?.metadata) return metadata;
  const parsed = metadataSchema.safeParse(result.metadata);
  if (!parsed.success)
    throw appError('HOOK_ANSWER_INVALID', { problem: 'The pre-create hook returned invalid metadata' });
  return parsed.data;
}
