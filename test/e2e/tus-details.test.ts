import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { Upload } from 'tus-js-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { createUpload, head, OCTETS, TUS } from '../helpers/tus.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(64 * 1024) });
});
afterEach(() => ctx.close());

/** The four tus 1.0 behaviours peers' suites check (tus-node-server's e2e suite, tus-js-client's, a Lua server's). */
describe('tus 1.0 details', () => {
  describe('"The X-HTTP-Method-Override request header MUST be a string which MUST be interpreted as the request\'s method by the Server"', () => {
    it('takes POST with X-HTTP-Method-Override: PATCH as the PATCH it stands for', async () => {
      const agent = request(ctx.app);
      const { path: url, id } = await createUpload(agent, { size: 6 });
      const res = await agent
        .post(url)
        .set(TUS)
        .set(OCTETS)
        .set('X-HTTP-Method-Override', 'PATCH')
        .set('Upload-Offset', '0')
        .send(Buffer.from('abc'));
      expect(res.status).toBe(204);
      expect(res.headers['upload-offset']).toBe('3');
      expect((await ctx.reader.readProgress(id))?.offset).toBe(3);
      // No second upload was created by the POST.
      const uuids = (await ctx.allKeys()).flatMap(
        (k) => k.slice(ctx.prefix.length).match(/[0-9a-f]{8}-[0-9a-f-]{27}/g) ?? [],
      );
      expect(new Set(uuids)).toEqual(new Set([id]));
    });

    it('answers GET /files with X-HTTP-Method-Override: OPTIONS as OPTIONS', async () => {
      const res = await request(ctx.app).get('/files').set('X-HTTP-Method-Override', 'OPTIONS');
      expect(res.status).toBe(204);
      expect(res.headers['tus-version']).toBe('1.0.0');
      expect(res.headers['tus-extension']).toContain('creation');
    });

    it('refuses an override that names no tus method, changing nothing', async () => {
      const res = await request(ctx.app)
        .post('/files')
        .set(TUS)
        .set('X-HTTP-Method-Override', 'PROPFIND')
        .set('Upload-Length', '3');
      expect(res.status).toBe(400);
      expect(res.text).toMatch(/X-HTTP-Method-Override: PROPFIND is not a tus method/);
      expect(await ctx.allKeys()).toEqual([]);
    });

    it('lets tus-js-client with overridePatchMethod: true complete a resumed upload byte-identical', async () => {
      const base = await ctx.listen();
      const data = randomBytes(1024 * 1024 + 17);
      const methods: string[] = [];
      const first = new Upload(data, {
        endpoint: `${base}/files`,
        chunkSize: 256 * 1024,
        overridePatchMethod: true,
        retryDelays: [],
        onBeforeRequest: (req) => {
          methods.push(`${req.getMethod()} ${req.getHeader('X-HTTP-Method-Override') ?? ''}`.trim());
        },
      });
      const interrupted = new Promise<number>((resolve, reject) => {
        first.options.onChunkComplete = (_chunk, accepted) => {
          if (accepted >= 512 * 1024) first.abort().then(() => resolve(accepted), reject);
        };
        first.options.onError = reject;
      });
      first.start();
      const accepted = await interrupted;
      const url = first.url as string;
      const id = url.split('/').pop() as string;
      expect((await ctx.reader.readProgress(id))?.offset).toBe(accepted);

      const done = await new Promise<Upload>((resolve, reject) => {
        const resumed: Upload = new Upload(data, {
          uploadUrl: url,
          chunkSize: 256 * 1024,
          overridePatchMethod: true,
          onBeforeRequest: (req) => {
            methods.push(`${req.getMethod()} ${req.getHeader('X-HTTP-Method-Override') ?? ''}`.trim());
          },
          onSuccess: () => resolve(resumed),
          onError: reject,
        });
        resumed.start();
      });
      expect(done.url).toBe(url);
      // Every append went as POST + override; none as PATCH.
      expect(methods.filter((m) => m.startsWith('PATCH'))).toEqual([]);
      expect(methods).toContain('POST PATCH');
      expect(methods).toContain('HEAD');
      expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
      expect(await ctx.reader.readProgress(id)).toMatchObject({
        status: 'completed',
        offset: data.length,
        receivedChunks: Math.ceil(data.length / (64 * 1024)),
        totalChunks: Math.ceil(data.length / (64 * 1024)),
        sha256: sha256(data),
      });
    });
  });

  describe('"If the version specified by the Client is not supported by the Server, it MUST respond with the 412 Precondition Failed status and MUST include the Tus-Version header into the response"', () => {
    it('answers 412 with Tus-Version to Tus-Resumable: 0.2.2, creating nothing', async () => {
      const res = await request(ctx.app).post('/files').set('Tus-Resumable', '0.2.2').set('Upload-Length', '3');
      expect(res.status).toBe(412);
      expect(res.headers['tus-version']).toBe('1.0.0');
      expect(res.headers['x-error-code']).toBe('TUS_VERSION_UNSUPPORTED');
      expect(res.text).toMatch(/Tus-Resumable 0\.2\.2 is not supported/);
      expect(await ctx.allKeys()).toEqual([]);
    });

    it('also names Tus-Version on the 412 for a request with no Tus-Resumable at all', async () => {
      const res = await request(ctx.app).post('/files').set('Upload-Length', '3');
      expect(res.status).toBe(412);
      expect(res.headers['tus-version']).toBe('1.0.0');
    });

    it('refuses a PATCH in another version without touching the upload', async () => {
      const agent = request(ctx.app);
      const { path: url, id } = await createUpload(agent, { size: 3 });
      const res = await agent
        .patch(url)
        .set('Tus-Resumable', '2.0.0')
        .set(OCTETS)
        .set('Upload-Offset', '0')
        .send(Buffer.from('abc'));
      expect(res.status).toBe(412);
      expect((await ctx.reader.readProgress(id))?.offset).toBe(0);
    });
  });

  describe('"If the resource is not found, the Server SHOULD return either the 404 Not Found, 410 Gone or 403 Forbidden status without the Upload-Offset header"', () => {
    it.each([
      ['HEAD', '/files/1234567890'],
      ['PATCH', '/files/dont_exist'],
      ['PATCH', '/files/'],
      ['DELETE', '/files/not-a-uuid'],
      ['GET', '/files/1234567890'],
    ])('answers %s %s with 404, no Upload-Offset, and says what an upload URL is', async (method, url) => {
      const agent = request(ctx.app);
      let req = agent[method.toLowerCase() as 'head' | 'patch' | 'delete' | 'get'](url).set(TUS);
      if (method === 'PATCH') req = req.set(OCTETS).set('Upload-Offset', '0');
      const res = method === 'PATCH' ? await req.send(Buffer.from('x')) : await req;
      expect(res.status).toBe(404);
      expect(res.headers['upload-offset']).toBeUndefined();
      expect(res.headers['x-error-code']).toBe('NOT_AN_UPLOAD_URL');
      if (method !== 'HEAD') expect(res.text).toMatch(/upload URLs end in the upload's ID, a UUID/);
      expect(await ctx.allKeys()).toEqual([]);
    });
  });

  describe('"All PATCH requests MUST use Content-Type: application/offset+octet-stream, otherwise the server SHOULD return a 415 Unsupported Media Type status"', () => {
    it.each([
      ['no Content-Type', undefined],
      ['Content-Type: application/json', 'application/json'],
      ['Content-Type: text/plain', 'text/plain'],
    ])('answers a PATCH with %s with 415 and stores nothing', async (_label, contentType) => {
      const agent = request(ctx.app);
      const { path: url, id } = await createUpload(agent, { size: 3 });
      let req = agent.patch(url).set(TUS).set('Upload-Offset', '0');
      if (contentType) req = req.set('Content-Type', contentType);
      const res = await req.send(Buffer.from('abc'));
      expect(res.status).toBe(415);
      expect(res.headers['x-error-code']).toBe('CONTENT_TYPE_REQUIRED');
      expect(res.text).toMatch(/application\/offset\+octet-stream/);
      expect(await ctx.reader.readProgress(id)).toMatchObject({ offset: 0, receivedChunks: 0, failedChunks: 0 });
      expect((await head(agent, url)).headers['upload-offset']).toBe('0');
    });
  });
});
