import { z } from 'zod';
import { askHook } from '../hooks/hook-call.js';
import { type AccessGrant, type Authorizer, accessDenied } from './authorizer.js';

const limit = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const grantSchema = z
  .object({
    owner: z.string().min(1).max(512).optional(),
    limits: z.object({ maxSizeBytes: limit.optional(), maxConcurrentUploads: limit.optional() }).optional(),
  })
  .optional();

/**
 * PRE_REQUEST_HOOK_URL: the application behind this server decides. It gets
 * `{ intent, method, url, uploadId, owner, subject, headers }` (headers as
 * received, so it can check a cookie or a token of its own) and answers 2xx
 * to allow, optionally with `{ "owner": "...", "limits": {...} }`, or any
 * other status to refuse, with a JSON `message` the client is shown.
 */
export function preRequestHook(url: string, timeoutMs: number): Authorizer {
  const hook = {
    url,
    timeoutMs,
    name: 'pre-request',
    schema: grantSchema,
    unreadable: 'The pre-request hook answered with something other than {owner, limits}',
  };
  return async (request) => ((await askHook(hook, request, accessDenied)) ?? {}) as AccessGrant;
}
