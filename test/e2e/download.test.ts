import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createUpload, getBytes, head, patch } from '../helpers/tus.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ CORS_ORIGINS: 'https://app.example' });
});
afterEach(() => ctx.close());

async function completed(metadata: Record<string, string | null>, data = randomBytes(1000)) {
  const agent = request(ctx.app);
  const { path: url } = await createUpload(agent, { size: data.length, metadata });
  await patch(agent, url, 0, data);
  return { url, data };
}

describe('GET of a completed upload', () => {
  it.each([
    [
      '履歴書 résumé.pdf',
      'attachment; filename="??? r?sum?.pdf"; filename*=UTF-8\'\'%E5%B1%A5%E6%AD%B4%E6%9B%B8%20r%C3%A9sum%C3%A9.pdf',
    ],
    [
      'evil\r\nSet-Cookie: a=b.txt',
      'attachment; filename="evil??Set-Cookie: a=b.txt"; filename*=UTF-8\'\'evil%0D%0ASet-Cookie%3A%20a%3Db.txt',
    ],
    ['quo"te.bin', 'attachment; filename="quo\\"te.bin"'],
  ])('never answers 500 for filename %j: a safe Content-Disposition', async (filename, disposition) => {
    const { url, data } = await completed({ filename });
    const res = await getBytes(request(ctx.app), url);
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe(disposition);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(Buffer.compare(res.body as Buffer, data)).toBe(0);
  });

  it('shows safe types inline and everything else (HTML, SVG, unknown) as a download, never sniffed', async () => {
    const cases: Array<[string, string, string]> = [
      ['image/png', 'image/png', 'inline'],
      ['text/html', 'text/html', 'attachment'],
      ['image/svg+xml', 'image/svg+xml', 'attachment'],
      ['not a type', 'application/octet-stream', 'attachment'],
    ];
    for (const [filetype, type, disposition] of cases) {
      const { url } = await completed({ filetype });
      const res = await request(ctx.app).get(url);
      expect(res.headers['content-type']).toMatch(new RegExp(`^${type.replace('+', '\\+')}`));
      expect(res.headers['content-disposition']).toBe(disposition);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('answers Range requests with 206 and the requested bytes', async () => {
    const { url, data } = await completed({ filename: 'a.bin' }, randomBytes(10_000));
    const res = await getBytes(request(ctx.app), url, { Range: 'bytes=100-199' });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 100-199/${data.length}`);
    expect(Buffer.compare(res.body as Buffer, data.subarray(100, 200))).toBe(0);
    const tail = await getBytes(request(ctx.app), url, { Range: 'bytes=-10' });
    expect(Buffer.compare(tail.body as Buffer, data.subarray(-10))).toBe(0);
    expect((await request(ctx.app).get(url).set('Range', 'bytes=20000-')).status).toBe(416);
  });

  it('sends CORS headers on GET as on the other methods', async () => {
    const { url } = await completed({});
    const res = await request(ctx.app).get(url).set('Origin', 'https://app.example');
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(res.headers['access-control-expose-headers']).toMatch(/Upload-Offset.*Content-Disposition/);
    const other = await head(request(ctx.app), url).set('Origin', 'https://app.example');
    expect(other.headers['access-control-allow-origin']).toBe('https://app.example');
  });

  it('answers 404 for an upload that is not complete, and for a malformed ID (as on every tus route), with JSON and CORS', async () => {
    const agent = request(ctx.app);
    const { path: url } = await createUpload(agent, { size: 10 });
    const pending = await agent.get(url).set('Origin', 'https://app.example');
    expect(pending.status).toBe(404);
    expect(pending.body.error.code).toBe('UPLOAD_NOT_FOUND');
    expect(pending.headers['access-control-allow-origin']).toBe('https://app.example');
    const malformed = await agent.get('/files/..%2F..%2Fetc%2Fpasswd');
    expect(malformed.status).toBe(404);
    expect(malformed.body.error.code).toBe('NOT_AN_UPLOAD_URL');
  });

  it('leaves HEAD to tus (the offset, not the file)', async () => {
    const agent = request(ctx.app);
    const { path: url } = await createUpload(agent, { size: 10 });
    await patch(agent, url, 0, randomBytes(4));
    const res = await head(agent, url);
    expect(res.status).toBe(200);
    expect(res.headers['upload-offset']).toBe('4');
  });
});
