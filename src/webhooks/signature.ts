import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * `Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
 * as Stripe signs: the timestamp is signed with the body, so a receiver can
 * refuse old deliveries replayed by someone who captured one.
 */
export function signatureHeader(secret: string, body: string, nowMs = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${hmac(secret, t, body)}`;
}

/** What a receiver does (docs/webhooks.md has the same check to copy): true if `header` signs `body` and is recent. */
export function verifySignature(
  secret: string,
  body: string,
  header: string | undefined,
  toleranceSeconds = 300,
  nowMs = Date.now(),
): boolean {
  const parts = new Map((header ?? '').split(',').map((part) => part.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const given = Buffer.from(parts.get('v1') ?? '', 'hex');
  if (!Number.isInteger(t) || Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmac(secret, t, body), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const hmac = (secret: string, t: number, body: string) =>
  createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
