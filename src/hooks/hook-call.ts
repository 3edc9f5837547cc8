import type { z } from 'zod';
import { type AppError, appError } from '../errors/app-error.js';

type HookAnswer = Readonly<{ status: number; json: unknown; text: string }>;

const MESSAGE_LIMIT = 500;

/** POSTs `body` as JSON to a hook; a hook that cannot be reached, or does not answer in time, is a 503. */
async function callHook(url: string, body: unknown, timeoutMs: number, name: string): Promise<HookAnswer> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'tus-redis-server-hooks' },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const e = error as Error;
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'it could not be reached';
    throw appError('HOOK_UNAVAILABLE', { hook: name, why });
  }
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/** What a hook's refusal tells the client: its JSON `message` (or `error`), else its text, else a generic line. */
function refusalMessage(answer: HookAnswer, fallback: string): string {
  const body = answer.json as { message?: unknown; error?: unknown } | undefined;
  const message = typeof body?.message === 'string' ? body.message : typeof body?.error === 'string' ? body.error : '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const chosen = (message || answer.text).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim() || fallback;
  return chosen.slice(0, MESSAGE_LIMIT);
}

/** A hook's status, as one a client may be given (1xx-3xx and unknown codes are not refusals). */
function refusalStatus(status: number): number {
  return status >= 400 && status <= 599 ? status : 502;
}

/**
 * The contract both hooks share: a 2xx allows, with a body `schema` reads; any
 * other status refuses with what `refuse` makes of that status and the hook's
 * message; a 2xx body the schema rejects is a 502 saying `unreadable`.
 */
export async function askHook<T>(
  hook: Readonly<{ url: string; timeoutMs: number; name: string; schema: z.ZodType<T>; unreadable: string }>,
  body: unknown,
  refuse: (status: number, message: string) => AppError,
): Promise<T> {
  const answer = await callHook(hook.url, body, hook.timeoutMs, hook.name);
  if (answer.status < 200 || answer.status > 299) {
    throw refuse(refusalStatus(answer.status), refusalMessage(answer, `Refused by the ${hook.name} hook`));
  }
  const parsed = hook.schema.safeParse(answer.json);
  if (!parsed.success) throw appError('HOOK_ANSWER_INVALID', { problem: hook.unreadable });
  return parsed.data;
}
