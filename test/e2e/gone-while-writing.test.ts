import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { openPatch } from '../helpers/raw-patch.js';
import { createUpload } from '../helpers/tus.js';
import { elapse, waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;
const PIECE = 64 * 1024;
/** The most a writer has pending when it stops: one batch of the direct write (1 MiB), and what is in flight. */
const ONE_BATCH = 1024 * 1024;

let ctx: TestContext;
afterEach(() => ctx?.close());

/** Streams `pieces` pieces to `url` at a steady pace until the server answers; what was sent by then, and the answer. */
async function streamUntilAnswered(
  base: string,
  url: string,
  pieces: number,
  onPiece: (sent: number) => Promise<void>,
) {
  const patch = openPatch(base, url, 0, pieces * PIECE);
  let answeredAt: number | undefined;
  void patch.response.then(() => {
    answeredAt = Date.now();
  });
  let sent = 0;
  for (let i = 0; i < pieces && answeredAt === undefined; i++) {
    await patch.write(randomBytes(PIECE));
    sent += PIECE;
    await onPiece(sent);
    await elapse(25); // a fixed pace: a slow client whose body would last ~2.5 s
  }
  const answer = await patch.response;
  return { answer, answeredAt: answeredAt ?? Date.now(), sent };
}

/** A writer stops at once when its upload is gone: no bytes go on into a file no record names. */
describe('an upload gone while its PATCH streams', () => {
  it('expired: the PATCH is answered 410 at its expiry, not when its body ends, and writes nothing after it', async () => {
    ctx = await createTestContext({ UPLOAD_TTL_SECONDS: '1', CHUNK_SIZE_BYTES: String(CHUNK) });
    const base = await ctx.listen();
    const { path: url, id } = await createUpload(request(ctx.app), { size: 100 * PIECE });
    // The expiry to the millisecond, as the server holds it (Upload-Expires, an HTTP date, drops the milliseconds:
    // up to a second early, in which this client sends up to ~2.6 MB).
    const expiresAt = Number(await ctx.redis.hget(ctx.keys.forUpload(id).upload, 'expiresAt'));
    let sentAtExpiry = 0;
    const { answer, answeredAt } = await streamUntilAnswered(base, url, 100, async (sent) => {
      if (Date.now() <= expiresAt) sentAtExpiry = sent;
    });
    expect(answer.status).toBe(410);
    expect(answer.headers['x-error-code']).toBe('UPLOAD_GONE');
    // Answered at its expiry (generously, on a busy machine), not at the body's end (~2.5 s of body).
    expect(answeredAt - expiresAt).toBeLessThan(1500);
    const onDisk = (await stat(path.join(ctx.dir, id)).catch(() => undefined))?.size ?? 0;
    expect(onDisk).toBeLessThanOrEqual(sentAtExpiry + ONE_BATCH);
  });

  it('record lost: the writer stops at its next recorded chunk, answered 410; the file holds no more than that', async () => {
    ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK), PROGRESS_INTERVAL_MS: '0' });
    const base = await ctx.listen();
    const { path: url, id } = await createUpload(request(ctx.app), { size: 100 * PIECE });
    let sentAtLoss: number | undefined;
    let lostAt = 0;
    const { answer, answeredAt, sent } = await streamUntilAnswered(base, url, 100, async (sentSoFar) => {
      if (sentAtLoss === undefined && sentSoFar >= 10 * PIECE) {
        await waitFor(async () => ((await ctx.bytes.bytesStored(id)) ?? 0) >= 8 * PIECE, { what: 'bytes stored' });
        const k = ctx.keys.forUpload(id);
        await ctx.redis.del(k.upload, k.chunksReceived);
        sentAtLoss = sentSoFar;
        lostAt = Date.now();
      }
    });
    expect(answer.status).toBe(410);
    expect(answeredAt - lostAt).toBeLessThan(1000);
    expect(sent).toBeLessThan(100 * PIECE);
    const onDisk = (await stat(path.join(ctx.dir, id))).size;
    expect(onDisk).toBeLessThanOrEqual((sentAtLoss as number) + CHUNK + ONE_BATCH);
  });
});
