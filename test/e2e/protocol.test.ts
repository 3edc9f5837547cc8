import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createUpload, getBytes, head, patch, TUS } from '../helpers/tus.js';
import { keysOfUpload } from '../helpers/upload-keys.js';
import { anonymous } from '../helpers/uploads.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(64 * 1024) });
});
afterEach(() => ctx.close());

describe('tus 1.0 conversation', () => {
  it('OPTIONS advertises the version, extensions and max size', async () => {
    const res = await request(ctx.app).options('/files');
    expect(res.status).toBe(204);
    expect(res.headers['tus-version']).toBe('1.0.0');
    expect(res.headers['tus-checksum-algorithm']).toBe('md5,sha1,sha256,sha512');
    expect(res.headers['access-control-allow-headers']).toMatch(/Upload-Checksum/);
    expect(res.headers['tus-extension']?.split(',').sort()).toEqual(
      [
        'checksum',
        'concatenation',
        'creation',
        'creation-defer-length',
        'creation-with-upload',
        'expiration',
        'termination',
      ].sort(),
    );
  });

  it('creates, patches in pieces, reports the offset on HEAD, and serves the completed file on GET', async () => {
    const agent = request(ctx.app);
    const data = randomBytes(150 * 1024);
    const { res, path: url } = await createUpload(agent, { size: data.length, metadata: { filename: 'a.bin' } });
    expect(res.status).toBe(201);
    expect(res.headers.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f-]{36}$/);
    expect(res.headers['upload-expires']).toBeDefined();

    let h = await head(agent, url);
    expect(h.status).toBe(200);
    expect(h.headers['upload-offset']).toBe('0');
    expect(h.headers['upload-length']).toBe(String(data.length));
    expect(h.headers['cache-control']).toBe('no-store');

    const first = await patch(agent, url, 0, data.subarray(0, 100_000));
    expect(first.status).toBe(204);
    expect(first.headers['upload-offset']).toBe('100000');
    h = await head(agent, url);
    expect(h.headers['upload-offset']).toBe('100000');

    const second = await patch(agent, url, 100_000, data.subarray(100_000));
    expect(second.status).toBe(204);
    expect(second.headers['upload-offset']).toBe(String(data.length));

    const get = await getBytes(agent, url);
    expect(get.status).toBe(200);
    expect(Buffer.compare(get.body as Buffer, data)).toBe(0);
    expect(get.headers['content-disposition']).toBe('attachment; filename=a.bin');
  });

  it('answers 409 to a PATCH at the wrong offset and stores none of its bytes', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 100 });
    await patch(agent, url, 0, Buffer.alloc(10, 1));
    const res = await patch(agent, url, 5, Buffer.alloc(10, 2));
    expect(res.status).toBe(409);
    expect((await head(agent, url)).headers['upload-offset']).toBe('10');
    expect(await readFile(path.join(ctx.dir, id))).toEqual(Buffer.alloc(10, 1));
  });

  it('creation-with-upload stores the POST body', async () => {
    const agent = request(ctx.app);
    const data = randomBytes(1000);
    const { res, path: url } = await createUpload(agent, { size: 4000, body: data });
    expect(res.status).toBe(201);
    expect(res.headers['upload-offset']).toBe('1000');
    expect((await head(agent, url)).headers['upload-offset']).toBe('1000');
  });

  it('defers the length, shows Upload-Defer-Length until it is declared, and completes on the declaring PATCH', async () => {
    const agent = request(ctx.app);
    const { res, path: url, id } = await createUpload(agent, {});
    expect(res.status).toBe(201);
    let h = await head(agent, url);
    expect(h.headers['upload-defer-length']).toBe('1');
    expect(h.headers['upload-length']).toBeUndefined();

    await patch(agent, url, 0, Buffer.alloc(64 * 1024, 7));
    expect((await agent.get(`/api/uploads/${id}/progress`)).body).toMatchObject({
      size: null,
      totalChunks: null,
      receivedChunks: 1,
    });

    const last = await patch(agent, url, 64 * 1024, Buffer.alloc(10, 8), { 'Upload-Length': String(64 * 1024 + 10) });
    expect(last.status).toBe(204);
    h = await head(agent, url);
    expect(h.headers['upload-defer-length']).toBeUndefined();
    expect(h.headers['upload-length']).toBe(String(64 * 1024 + 10));
    const progress = (await agent.get(`/api/uploads/${id}/progress`)).body;
    expect(progress).toMatchObject({ status: 'completed', size: 64 * 1024 + 10, totalChunks: 2, receivedChunks: 2 });

    // tus: the length may be declared only once.
    const again = await patch(agent, url, 64 * 1024 + 10, Buffer.alloc(0), { 'Upload-Length': '99999' });
    expect(again.status).toBe(400);
  });

  it('accepts a deferred length said again with the same value (a retried final PATCH), refuses another', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, {});
    await patch(agent, url, 0, Buffer.alloc(100, 1));
    // The PATCH that declared the length was cut after the length was recorded; the client sends it again.
    await ctx.uploadStore.declareLength(await ctx.uploadStore.open(id, anonymous), 150);
    const again = await patch(agent, url, 100, Buffer.alloc(50, 2), { 'Upload-Length': '150' });
    expect(again.status).toBe(204);
    expect(again.headers['upload-offset']).toBe('150');
    expect((await agent.get(`/api/uploads/${id}/progress`)).body).toMatchObject({ status: 'completed', size: 150 });
    const other = await patch(agent, url, 150, Buffer.alloc(0), { 'Upload-Length': '151' });
    expect(other.status).toBe(400);
    expect(other.headers['x-error-code']).toBe('INVALID_LENGTH');
  });

  it('declares a deferred length that is an exact multiple of the chunk size on an empty final PATCH', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, {});
    await patch(agent, url, 0, Buffer.alloc(128 * 1024, 1));
    const res = await patch(agent, url, 128 * 1024, Buffer.alloc(0), { 'Upload-Length': String(128 * 1024) });
    expect(res.status).toBe(204);
    const progress = (await agent.get(`/api/uploads/${id}/progress`)).body;
    expect(progress).toMatchObject({ status: 'completed', totalChunks: 2, receivedChunks: 2, percent: 100 });
  });

  it('refuses a declared length below the bytes already received', async () => {
    const agent = request(ctx.app);
    const { path: url } = await createUpload(agent, {});
    await patch(agent, url, 0, Buffer.alloc(100));
    const res = await patch(agent, url, 100, Buffer.alloc(0), { 'Upload-Length': '50' });
    expect(res.status).toBe(400);
  });

  it('terminates an upload: DELETE removes its bytes and both keys, then it is 404', async () => {
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 200 * 1024 });
    await patch(agent, url, 0, Buffer.alloc(100 * 1024));
    expect(await ctx.allKeys()).toContain(keysOfUpload(ctx.prefix, id).chunksReceived);
    const res = await agent.delete(url).set(TUS);
    expect(res.status).toBe(204);
    expect((await head(agent, url)).status).toBe(404);
    expect((await ctx.allKeys()).filter((k) => k.includes(id))).toEqual([]);
    await expect(readFile(path.join(ctx.dir, id))).rejects.toThrow(/ENOENT/);
    expect((await agent.delete(url).set(TUS)).status).toBe(404);
  });

  it('creates an empty upload already completed, with the SHA-256 of nothing', async () => {
    const agent = request(ctx.app);
    const { res, id } = await createUpload(agent, { size: 0 });
    expect(res.status).toBe(201);
    const progress = (await agent.get(`/api/uploads/${id}/progress`)).body;
    expect(progress).toMatchObject({
      status: 'completed',
      totalChunks: 0,
      receivedChunks: 0,
      percent: 100,
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    });
  });

  it('requires Tus-Resumable (412) and rejects malformed lengths (400) without creating anything', async () => {
    const agent = request(ctx.app);
    expect((await agent.post('/files').set('Upload-Length', '10')).status).toBe(412);
    for (const bad of ['-1', '1e3', '0x10', '+10', '9007199254740993', 'abc', '1.5']) {
      const res = await agent.post('/files').set(TUS).set('Upload-Length', bad);
      expect(res.status, `Upload-Length ${JSON.stringify(bad)}`).toBe(400);
    }
    expect(await ctx.allKeys()).toEqual([]);
  });

  it('refuses an upload larger than MAX_SIZE_BYTES with 413', async () => {
    const small = await createTestContext({ MAX_SIZE_BYTES: '1000' });
    try {
      const { res } = await createUpload(request(small.app), { size: 1001 });
      expect(res.status).toBe(413);
      expect(await small.allKeys()).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('refuses a bad chunkSize in metadata with a 400 that says why, creating nothing', async () => {
    const agent = request(ctx.app);
    const { res } = await createUpload(agent, { size: 10, metadata: { chunkSize: '12' } });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/chunkSize must be a whole number of bytes between 65536 and/);
    expect(await ctx.allKeys()).toEqual([]);
  });

  it('uses a chunk size the client asks for', async () => {
    const agent = request(ctx.app);
    const { id } = await createUpload(agent, { size: 1_000_000, metadata: { chunkSize: String(128 * 1024) } });
    expect((await agent.get(`/api/uploads/${id}/progress`)).body).toMatchObject({ chunkSize: 131072, totalChunks: 8 });
  });
});

describe('UPLOAD_DIGEST=none', () => {
  it('completes uploads without recording a SHA-256', async () => {
    const plain = await createTestContext({ UPLOAD_DIGEST: 'none' });
    try {
      const agent = request(plain.app);
      const { path: url, id } = await createUpload(agent, { size: 10 });
      await patch(agent, url, 0, randomBytes(10));
      const record = await plain.reader.readRecord(id);
      expect(record).toMatchObject({ status: 'completed', sha256: undefined });
      expect(record?.completedAt).toBeGreaterThan(0);
    } finally {
      await plain.close();
    }
  });
});
