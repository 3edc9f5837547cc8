import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { openPatch } from '../helpers/raw-patch.js';
import { openEvents } from '../helpers/sse.js';
import { createUpload } from '../helpers/tus.js';
import { elapse } from '../helpers/wait.js';

const CHUNK = 4 * 1024 * 1024;
const INTERVAL_MS = 200;
const PIECE = 32 * 1024;

let ctx: TestContext;
let base: string;
beforeAll(async () => {
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK), PROGRESS_INTERVAL_MS: String(INTERVAL_MS) });
  base = await ctx.listen();
});
afterAll(() => ctx?.close());

describe('progress a person sees move', () => {
  it('offset and progress events follow the bytes stored within a chunk, at most PROGRESS_INTERVAL_MS apart; the chunk counts stay whole', async () => {
    const data = randomBytes(CHUNK);
    const { path: url, id } = await createUpload(request(base), { size: data.length });
    const events = openEvents(`${base}/api/uploads/${id}/events`);
    await events.waitFor((e) => e.event === 'snapshot');
    const open = openPatch(base, url, 0, data.length);
    // A slow client: 32 KiB every 50 ms (640 KiB/s) for 2 s, a fifth of one chunk.
    const seen: Array<{ offset: number; receivedChunks: number; sent: number }> = [];
    let sent = 0;
    for (let i = 0; i < 40; i++) {
      await open.write(data.subarray(sent, sent + PIECE));
      sent += PIECE;
      await elapse(50);
      const progress = await ctx.reader.readProgress(id);
      seen.push({ offset: progress?.offset ?? 0, receivedChunks: progress?.receivedChunks ?? -1, sent });
    }
    const offsets = [...new Set(seen.map((s) => s.offset))].filter((offset) => offset > 0);
    // 2 s at one record per 200 ms is about 10 values; a busy machine may see fewer, never only whole chunks (0).
    expect(offsets.length).toBeGreaterThanOrEqual(4);
    for (const s of seen) {
      expect(s.offset).toBeLessThanOrEqual(s.sent);
      // The cheat sheet's chunk counts: a chunk is received when all of its bytes are.
      expect(s.receivedChunks).toBe(0);
    }
    // Never more than a sent-but-unrecorded interval behind, once it has begun (allowing for a busy machine).
    expect(seen.at(-1)?.offset).toBeGreaterThan(sent / 2);
    const moving = events.events.filter((e) => e.event === 'progress');
    expect(moving.length).toBeGreaterThanOrEqual(4);
    // And the throttle holds: no more records than one per interval (and the first at once).
    expect(moving.length).toBeLessThanOrEqual(2000 / INTERVAL_MS + 2);

    await open.write(data.subarray(sent));
    open.end();
    expect((await open.response).status).toBe(204);
    await events.waitFor((e) => e.event === 'completed');
    expect(await ctx.reader.readProgress(id)).toMatchObject({ offset: CHUNK, receivedChunks: 1, status: 'completed' });
    await events.close();
  });
});
