import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { chunkedRequest, draftRequest } from '../helpers/draft.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

const CHUNK = 64 * 1024;

let hook: Awaited<ReturnType<typeof startReceiver>>;
const app = {} as { ctx: TestContext; base: string };
beforeEach(async () => {
  hook = await startReceiver();
  app.ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK), WEBHOOK_URLS: hook.url });
  app.base = await app.ctx.listen();
});
afterEach(async () => {
  await app.ctx.close();
  await hook.close();
});

const idOf = (location: unknown) => new URL(String(location), 'http://x').pathname.split('/').pop() as string;

/**
 * The draft: a server "MUST NOT send the 104 (Upload Resumption Supported) [...] when the interop version [...] is
 * missing or mismatching". A version this server does not know never fails an upload that would work without it.
 */
describe('an interop version this server does not speak', () => {
  it.each(['11', '42', 'banana'])(
    'Upload-Draft-Interop-Version: %s with the whole file in one request is stored as an ordinary upload, tracked and completed',
    async (version) => {
      const data = randomBytes(300 * 1024);
      const res = await draftRequest(
        app.base,
        'POST',
        '/files',
        { 'Upload-Draft-Interop-Version': version, 'Upload-Complete': '?1', 'Content-Type': 'video/mp4' },
        data,
      );
      expect(res.informational).toEqual([]);
      expect(res.status).toBe(201);
      expect(res.headers['upload-draft-interop-version']).toBeUndefined();
      expect(res.headers['upload-complete']).toBeUndefined();
      expect(res.body.toString()).toMatch(/it speaks 3 to 10/);
      const id = idOf(res.headers.location);
      expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
      expect(await app.ctx.reader.readProgress(id)).toMatchObject({
        status: 'completed',
        size: data.length,
        offset: data.length,
        totalChunks: 5,
        receivedChunks: 5,
        sha256: sha256(data),
        metadata: { filetype: 'video/mp4' },
      });
      await hook.waitFor(() => hook.of('upload.completed', id).length === 1);
      expect(hook.of('upload.created', id)).toHaveLength(1);
      expect(hook.of('upload.completed', id)[0]?.body.upload).toMatchObject({ id, sha256: sha256(data) });
    },
  );

  it('stores a chunked body of unknown length the same way, its size what arrived', async () => {
    const pieces = [randomBytes(CHUNK), randomBytes(CHUNK), randomBytes(77)];
    const res = await chunkedRequest(app.base, 'POST', '/files', { 'Upload-Draft-Interop-Version': '11' }, pieces);
    expect(res.status).toBe(201);
    const id = idOf(res.headers.location);
    const data = Buffer.concat(pieces);
    expect(await app.ctx.reader.readProgress(id)).toMatchObject({
      status: 'completed',
      size: data.length,
      sha256: sha256(data),
    });
  });

  it('refuses anything else of such a version with 400, no 104, changing nothing', async () => {
    const created = await draftRequest(
      app.base,
      'POST',
      '/files',
      { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?0' },
      Buffer.from('abc'),
    );
    const url = new URL(String(created.headers.location)).pathname;
    const before = await app.ctx.reader.readProgress(idOf(url));
    const tries: Array<[string, string, Record<string, string>, Buffer | undefined]> = [
      ['POST', '/files', { 'Upload-Complete': '?0' }, Buffer.from('x')],
      ['POST', '/files', { 'Upload-Incomplete': '?1' }, Buffer.from('x')],
      ['HEAD', url, {}, undefined],
      ['PATCH', url, { 'Upload-Offset': '3', 'Upload-Complete': '?1' }, Buffer.from('def')],
      ['DELETE', url, {}, undefined],
    ];
    for (const [method, target, headers, body] of tries) {
      const res = await draftRequest(
        app.base,
        method,
        target,
        { 'Upload-Draft-Interop-Version': '12', ...headers },
        body,
      );
      expect(res.status, `${method} ${JSON.stringify(headers)}`).toBe(400);
      expect(res.headers['x-error-code']).toBe('INTEROP_VERSION_UNSUPPORTED');
      expect(res.informational).toEqual([]);
    }
    expect(await app.ctx.reader.readProgress(idOf(url))).toEqual(before);
    // Still the one upload: no record was made by any of them.
    expect((await app.ctx.allKeys()).filter((k) => app.ctx.keys.uploadIdOf(k) !== undefined)).toHaveLength(1);
  });
});
