import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { openPatch } from '../helpers/raw-patch.js';
import { createUpload } from '../helpers/tus.js';
import { elapse, waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;
const PIECE = 64 * 1024;
const PIECES = 120;

let ctx: TestContext;
let base: string;
beforeEach(async () => {
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK) });
  base = await ctx.listen();
});
afterEach(() => ctx.close());

/**
 * A request that takes an upload over (a HEAD after a lost connection, say)
 * ends the one in flight: that one stops reading at once, and is answered
 * (tus: 423) or closed within 0.5 s, not when its sender has sent the rest
 * (which would be thrown away). What it stored before is kept and recorded.
 */
describe('a PATCH superseded while its body streams', () => {
  for (const protocol of ['tus', 'draft'] as const) {
    it(`${protocol}: stops at once, answered or closed within 0.5 s, the rest of its body unread`, async () => {
      const { path: url, id } = await createUpload(request(ctx.app), { size: PIECES * PIECE });
      const headers =
        protocol === 'tus'
          ? undefined
          : {
              'Upload-Draft-Interop-Version': '10',
              'Upload-Complete': '?1',
              'Content-Type': 'application/partial-upload',
            };
      const patch = openPatch(base, url, 0, PIECES * PIECE, headers);
      let endedAt: number | undefined;
      patch.response.then(
        () => (endedAt ??= Date.now()),
        () => (endedAt ??= Date.now()),
      );
      let sent = 0;
      const sending = (async () => {
        for (let i = 0; i < PIECES && endedAt === undefined; i++) {
          await patch.write(randomBytes(PIECE));
          sent += PIECE;
          await elapse(20); // a fixed pace: a body that would take ~2.4 s
        }
      })();
      await waitFor(async () => ((await ctx.bytes.bytesStored(id)) ?? 0) >= 4 * PIECE, { what: 'bytes stored' });
      const head = await request(ctx.app).head(url).set('Tus-Resumable', '1.0.0');
      const tookOverAt = Date.now();
      expect(head.status).toBe(200);
      const offset = Number(head.headers['upload-offset']);
      await waitFor(() => endedAt !== undefined, { what: 'the superseded PATCH answered or closed', timeoutMs: 5000 });
      expect((endedAt as number) - tookOverAt).toBeLessThan(500);
      if (protocol === 'tus') expect((await patch.response).status).toBe(423);
      await sending;
      // It stopped before its sender had sent it all: the rest was not waited for.
      expect(sent).toBeLessThan(PIECES * PIECE);
      expect((await stat(path.join(ctx.dir, id))).size).toBe(offset);
      expect((await ctx.reader.readProgress(id))?.offset).toBe(offset);
    });
  }
});
