// E5 of issue 20, on S3: a download asked for several ranges (disk: defects-round3.test.ts).
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';
import { createUpload, downloadWithPause, patch } from '../helpers/tus.js';

let storage: S3Storage;
let ctx: TestContext | undefined;
beforeAll(async () => {
  storage = await s3Storage();
});
afterEach(async () => {
  await ctx?.close();
});

describe('E5: a download from S3 asked for several ranges', () => {
  it('answers the whole file, 200, as on disk (no boundary-less multipart, no range served fifty times over)', async () => {
    ctx = await createTestContext(storage.env());
    const data = randomBytes(5000);
    const { path: url } = await createUpload(request(ctx.app), { size: data.length });
    expect((await patch(request(ctx.app), url, 0, data)).status).toBe(204);
    for (const range of ['bytes=0-9,20-29', `bytes=${Array.from({ length: 50 }, () => '0-999').join(',')}`]) {
      const res = await request(ctx.app).get(url).set('Range', range).buffer(true);
      expect(res.status, range).toBe(200);
      expect(res.headers['content-type']).not.toMatch(/multipart/);
      expect(Buffer.from(res.body).equals(data), range).toBe(true);
    }
    const one = await request(ctx.app).get(url).set('Range', 'bytes=100-199').buffer(true);
    expect(one.status).toBe(206);
    expect(one.headers['content-range']).toBe(`bytes 100-199/${data.length}`);
    expect(Buffer.from(one.body).equals(data.subarray(100, 200))).toBe(true);
  });
});

describe('a slow reader of a download from S3', () => {
  it('pausing longer than S3_REQUEST_TIMEOUT_MS still gets the whole file: only S3 is timed', async () => {
    ctx = await createTestContext({ ...storage.env(), S3_REQUEST_TIMEOUT_MS: '1000' });
    // More than the socket and stream buffers between S3 and the reader hold, so the pause reaches S3's side.
    const data = randomBytes(32 * 1024 * 1024);
    const { path: url } = await createUpload(request(ctx.app), { size: data.length });
    expect((await patch(request(ctx.app), url, 0, data)).status).toBe(204);
    expect(sha256(await downloadWithPause(`${await ctx.listen()}${url}`, 2500))).toBe(sha256(data));
  });
});
