import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { appPerTest } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { draftRequest, interruptedCreation, pacedDraftRequest, recordedAtLeast } from '../helpers/draft.js';

const CHUNK = 64 * 1024;
const TTL_SECONDS = 3600;

const app = appPerTest({
  CHUNK_SIZE_BYTES: String(CHUNK),
  MAX_SIZE_BYTES: '10000000',
  UPLOAD_TTL_SECONDS: String(TTL_SECONDS),
  PROGRESS_INTERVAL_MS: '20',
});

const idOf = (location: unknown) => new URL(String(location), 'http://x').pathname.split('/').pop() as string;
const pathOf = (location: unknown) => new URL(String(location), 'http://x').pathname;
const appendHeaders = (v: number, offset: number, complete: boolean): Record<string, string> => ({
  'Upload-Draft-Interop-Version': String(v),
  'Upload-Offset': String(offset),
  'Upload-Complete': complete ? '?1' : '?0',
  'Content-Type': 'application/partial-upload',
});

/** `max-age` of an Upload-Limit, in seconds. */
const maxAge = (limit: unknown) => Number(/max-age=(\d+)/.exec(String(limit))?.[1]);

describe.each([7, 8, 9, 10])('IETF Resumable Uploads, interop version %i', (v) => {
  const interop = { 'Upload-Draft-Interop-Version': String(v) };

  it('takes a whole file in one request as URLSession sends it, byte-identical and tracked in Redis', async () => {
    const data = randomBytes(300 * 1024);
    // An iOS 26.2 simulator: "Upload-Draft-Interop-Version: 8 with Upload-Complete: ?1 and Upload-Length".
    const res = await draftRequest(
      app.base,
      'POST',
      '/files',
      { ...interop, 'Upload-Complete': '?1', 'Upload-Length': String(data.length), 'Content-Type': 'image/heic' },
      data,
    );
    // -06: the server "SHOULD announce the upload resource by sending an interim response with the 104 [...] and the
    // Location"; -09: it "MUST include the Upload-Limit header field".
    const [first] = res.informational;
    expect(first?.statusCode).toBe(104);
    expect(first?.headers['upload-draft-interop-version']).toBe(String(v));
    expect(first?.headers.location).toBe(res.headers.location);
    expect(first?.headers['upload-limit']).toMatch(/^min-size=0, max-size=10000000, max-age=\d+$/);
    expect(res.status).toBe(201);
    expect(res.headers['upload-complete']).toBe('?1');
    expect(res.headers['upload-offset']).toBe(String(data.length));
    const id = idOf(res.headers.location);
    expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
    expect(await app.ctx.redis.hgetall(app.ctx.keys.forUpload(id).upload)).toMatchObject({
      status: 'completed',
      size: String(data.length),
      totalChunks: '5',
      receivedChunks: '5',
      sha256: sha256(data),
    });
    expect(await app.ctx.redis.scard(app.ctx.keys.forUpload(id).chunksReceived)).toBe(5);
    // The same upload as tus and the dashboard see it.
    const tusHead = await request(app.ctx.app).head(pathOf(res.headers.location)).set('Tus-Resumable', '1.0.0');
    expect(tusHead.headers['upload-offset']).toBe(String(data.length));
    expect(tusHead.headers['upload-length']).toBe(String(data.length));
    const progress = await request(app.ctx.app).get(`/api/uploads/${id}/progress`);
    expect(progress.body).toMatchObject({ status: 'completed', percent: 100, metadata: { filetype: 'image/heic' } });
  });

  it('resumes a creation cut mid-body from its 104 Location: offset retrieval, then an append', async () => {
    const data = randomBytes(3 * CHUNK + 999);
    const interim = await interruptedCreation(
      app.base,
      '/files',
      { ...interop, 'Upload-Complete': '?1' },
      data.subarray(0, CHUNK + 100),
      data.length,
      recordedAtLeast(app.ctx.reader, CHUNK),
    );
    const url = pathOf(interim.headers.location);
    const head = await draftRequest(app.base, 'HEAD', url, interop);
    expect(head.status).toBe(204);
    expect(head.headers['cache-control']).toBe('no-store');
    expect(head.headers['upload-complete']).toBe('?0');
    expect(head.headers['upload-length']).toBe(String(data.length));
    // -09: offset retrieval "MUST indicate the limits in the Upload-Limit header field"; -06: `max-age`, the time
    // the upload resource lives yet.
    expect(maxAge(head.headers['upload-limit'])).toBeGreaterThan(TTL_SECONDS - 60);
    expect(maxAge(head.headers['upload-limit'])).toBeLessThanOrEqual(TTL_SECONDS);
    const offset = Number(head.headers['upload-offset']);
    expect(offset).toBeGreaterThan(0);
    const rest = await draftRequest(app.base, 'PATCH', url, appendHeaders(v, offset, true), data.subarray(offset));
    expect(rest.status).toBe(201);
    expect(rest.headers['upload-complete']).toBe('?1');
    expect(sha256(await readFile(path.join(app.ctx.dir, idOf(url))))).toBe(sha256(data));
    expect(await app.ctx.reader.readProgress(idOf(url))).toMatchObject({ status: 'completed', sha256: sha256(data) });
  });

  it('refuses an append that does not carry Upload-Complete (-06: "The request MUST include the Upload-Complete header field"), storing nothing', async () => {
    const created = await draftRequest(app.base, 'POST', '/files', { ...interop, 'Upload-Complete': '?0' });
    const headers = appendHeaders(v, 0, false);
    delete headers['Upload-Complete'];
    const res = await draftRequest(app.base, 'PATCH', pathOf(created.headers.location), headers, Buffer.from('abc'));
    expect(res.status).toBe(400);
    expect(res.headers['x-error-code']).toBe('COMPLETENESS_REQUIRED');
    expect(res.body.toString()).toMatch(/An append must carry Upload-Complete/);
    expect(await app.ctx.reader.readProgress(idOf(created.headers.location))).toMatchObject({ offset: 0 });
  });

  it('answers lengths that disagree with the inconsistent-upload-length problem type (-06)', async () => {
    const res = await draftRequest(
      app.base,
      'POST',
      '/files',
      { ...interop, 'Upload-Complete': '?1', 'Upload-Length': '5' },
      Buffer.from('abc'),
    );
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(res.body.toString())).toMatchObject({
      type: 'https://iana.org/assignments/http-problem-types#inconsistent-upload-length',
    });
    expect(await app.ctx.allKeys()).toEqual([]);
  });

  it('answers a wrong offset with 409 and mismatching-upload-offset, its expected and provided offsets', async () => {
    const created = await draftRequest(
      app.base,
      'POST',
      '/files',
      { ...interop, 'Upload-Complete': '?0' },
      Buffer.from('0123'),
    );
    const res = await draftRequest(
      app.base,
      'PATCH',
      pathOf(created.headers.location),
      appendHeaders(v, 2, false),
      Buffer.from('x'),
    );
    expect(res.status).toBe(409);
    expect(res.headers['upload-offset']).toBe('4');
    // -12: the 409 carries "the Upload-Complete header field set to false".
    expect(res.headers['upload-complete']).toBe('?0');
    expect(JSON.parse(res.body.toString())).toEqual({
      type: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset',
      title: 'Upload-Offset conflict',
      'expected-offset': 4,
      'provided-offset': 2,
    });
  });

  it('cancels with DELETE (204), after which the upload is 404', async () => {
    const created = await draftRequest(
      app.base,
      'POST',
      '/files',
      { ...interop, 'Upload-Complete': '?0' },
      Buffer.from('ab'),
    );
    const url = pathOf(created.headers.location);
    expect((await draftRequest(app.base, 'DELETE', url, interop)).status).toBe(204);
    expect((await draftRequest(app.base, 'HEAD', url, interop)).status).toBe(404);
    expect(await app.ctx.allKeys()).toEqual([]);
  });
});

describe('IETF Resumable Uploads, interop version 6, appends without Upload-Complete', () => {
  it('takes an append without Upload-Complete as the end (-05: it "MUST be set to false" when it is not)', async () => {
    const created = await draftRequest(app.base, 'POST', '/files', {
      'Upload-Draft-Interop-Version': '6',
      'Upload-Complete': '?0',
    });
    const headers = appendHeaders(6, 0, true);
    delete headers['Upload-Complete'];
    const res = await draftRequest(app.base, 'PATCH', pathOf(created.headers.location), headers, Buffer.from('hello'));
    expect(res.status).toBe(201);
    expect(res.headers['upload-complete']).toBe('?1');
    expect(await app.ctx.reader.readProgress(idOf(created.headers.location))).toMatchObject({
      status: 'completed',
      size: 5,
    });
  });
});

describe('IETF Resumable Uploads: from interop version 8', () => {
  it.each([8, 10])(
    'v%i sends 104s with Location and Upload-Offset as the content arrives (-09: "SHOULD")',
    async (v) => {
      const created = await draftRequest(app.base, 'POST', '/files', {
        'Upload-Draft-Interop-Version': String(v),
        'Upload-Complete': '?0',
      });
      const pieces = [0, 1, 2, 3].map(() => randomBytes(CHUNK));
      const url = pathOf(created.headers.location);
      const res = await pacedDraftRequest(app.base, 'PATCH', url, appendHeaders(v, 0, true), pieces, 150);
      expect(res.status).toBe(201);
      const progress = res.informational.filter((i) => i.statusCode === 104);
      expect(progress.length).toBeGreaterThanOrEqual(2);
      const offsets = progress.map((i) => Number(i.headers['upload-offset']));
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      for (const i of progress) {
        // -10: "When sent, it MUST include Location"; "all interim and final response messages for the same request
        // MUST contain an identical Location value".
        expect(pathOf(i.headers.location)).toBe(url);
        expect(i.headers['upload-draft-interop-version']).toBe(String(v));
        // Interim: bytes stored while the rest streams (progress follows the bytes, not only whole chunks).
        expect(Number(i.headers['upload-offset'])).toBeLessThanOrEqual(4 * CHUNK);
      }
    },
  );

  it('ignores a field that is not of its type (-09: it "MUST cause the entire header field to be ignored"); 7 refuses it', async () => {
    const field = { 'Upload-Complete': '?1', 'Upload-Length': 'eleven' };
    const v8 = await draftRequest(
      app.base,
      'POST',
      '/files',
      { 'Upload-Draft-Interop-Version': '8', ...field },
      Buffer.from('hello world'),
    );
    expect(v8.status).toBe(201);
    expect(await app.ctx.reader.readProgress(idOf(v8.headers.location))).toMatchObject({
      status: 'completed',
      size: 11,
    });
    const v7 = await draftRequest(
      app.base,
      'POST',
      '/files',
      { 'Upload-Draft-Interop-Version': '7', ...field },
      Buffer.from('hello world'),
    );
    expect(v7.status).toBe(400);
    expect(v7.headers['x-error-code']).toBe('INVALID_FIELD');
  });
});

describe('IETF Resumable Uploads: from interop version 9 (-12)', () => {
  it('retrieves the offset by GET as by HEAD ("a HEAD or GET request")', async () => {
    const created = await draftRequest(
      app.base,
      'POST',
      '/files',
      { 'Upload-Draft-Interop-Version': '9', 'Upload-Complete': '?0' },
      Buffer.from('abcde'),
    );
    const url = pathOf(created.headers.location);
    for (const method of ['GET', 'HEAD']) {
      const res = await draftRequest(app.base, method, url, { 'Upload-Draft-Interop-Version': '9' });
      expect(res.status, method).toBe(204);
      expect(res.headers['upload-offset']).toBe('5');
      expect(res.headers['upload-complete']).toBe('?0');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.length).toBe(0);
    }
    // Without the field, or with an older version, a GET is still the download of a completed upload.
    expect((await request(app.ctx.app).get(url)).status).toBe(404);
  });

  it('answers a retried last append again with the final response, and refuses content past the end', async () => {
    const created = await draftRequest(
      app.base,
      'POST',
      '/files',
      { 'Upload-Draft-Interop-Version': '10', 'Upload-Complete': '?1' },
      Buffer.from('done'),
    );
    const url = pathOf(created.headers.location);
    // "The server can choose to replay the final response".
    const replay = await draftRequest(app.base, 'PATCH', url, appendHeaders(10, 4, true));
    expect(replay.status).toBe(201);
    expect(replay.headers['upload-complete']).toBe('?1');
    expect(replay.headers['upload-offset']).toBe('4');
    const more = await draftRequest(app.base, 'PATCH', url, appendHeaders(10, 4, true), Buffer.from('more'));
    expect(more.status).toBe(400);
    // Upload-Complete "can be false in response to an invalid operation performed on a completed upload".
    expect(more.headers['upload-complete']).toBe('?0');
    expect(JSON.parse(more.body.toString()).type).toMatch(/#inconsistent-upload-length$/);
    expect(await readFile(path.join(app.ctx.dir, idOf(url)), 'utf8')).toBe('done');
  });

  it('refuses a creation over the limits with the limits (-12: the response "SHOULD include the Upload-Limit") and Upload-Complete: ?1', async () => {
    const res = await draftRequest(app.base, 'POST', '/files', {
      'Upload-Draft-Interop-Version': '9',
      'Upload-Complete': '?0',
      'Upload-Length': '10000001',
    });
    expect(res.status).toBe(413);
    expect(res.headers['upload-limit']).toBe('min-size=0, max-size=10000000');
    // The target resource's own final answer: nothing to resume.
    expect(res.headers['upload-complete']).toBe('?1');
    expect(res.informational).toEqual([]);
    expect(await app.ctx.allKeys()).toEqual([]);
  });
});
