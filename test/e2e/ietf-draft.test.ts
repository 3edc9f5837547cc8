import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { appPerTest, createTestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { completeness, draftRequest, interruptedCreation, recordedAtLeast } from '../helpers/draft.js';
import { waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;

const app = appPerTest({ CHUNK_SIZE_BYTES: String(CHUNK) });

const idOf = (location: string | undefined) => new URL(location ?? '', 'http://x').pathname.split('/').pop() as string;
const pathOf = (location: string | undefined) => new URL(location ?? '', 'http://x').pathname;

/** The completeness field a response carries, as a boolean "complete". */
function saysComplete(v: number, headers: Record<string, string | string[] | undefined>): boolean | undefined {
  const value = headers[v === 3 ? 'upload-incomplete' : 'upload-complete'];
  if (value === undefined) return undefined;
  return v === 3 ? value === '?0' : value === '?1';
}

/** The headers every append of version `v` carries (v6: "MUST use" application/partial-upload). */
const appendHeaders = (v: number, offset: number, complete: boolean): Record<string, string> => ({
  'Upload-Draft-Interop-Version': String(v),
  'Upload-Offset': String(offset),
  ...completeness(v, complete),
  ...(v >= 6 ? { 'Content-Type': 'application/partial-upload' } : {}),
});

describe.each([3, 5, 6])('IETF Resumable Uploads, interop version %i', (v) => {
  const interop = { 'Upload-Draft-Interop-Version': String(v) };

  it('creates with the whole file in one request: a 104 with Location before the 201, the record exact', async () => {
    const data = randomBytes(3 * CHUNK + 100);
    const res = await draftRequest(
      app.base,
      'POST',
      '/files',
      {
        ...interop,
        ...completeness(v, true),
        'Content-Type': 'image/png',
        'Content-Disposition': 'attachment; filename="cat.png"',
      },
      data,
    );
    // "The server MAY send a 104 [...] once the upload resource is created"; "the Location header field MUST be
    // included"; it "MUST also send a header field Upload-Draft-Interop-Version with the interop version".
    expect(res.informational).toHaveLength(1);
    const [interim] = res.informational;
    expect(interim?.statusCode).toBe(104);
    expect(interim?.headers['upload-draft-interop-version']).toBe(String(v));
    expect(interim?.headers.location).toMatch(new RegExp(`^${app.base}/files/[0-9a-f-]{36}$`));
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(interim?.headers.location);
    expect(res.headers['upload-offset']).toBe(String(data.length));
    expect(saysComplete(v, res.headers)).toBe(true);
    const id = idOf(res.headers.location);
    expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
    expect(await app.ctx.redis.hgetall(app.ctx.keys.forUpload(id).upload)).toMatchObject({
      status: 'completed',
      size: String(data.length),
      offset: String(data.length),
      totalChunks: '4',
      receivedChunks: '4',
      failedChunks: '0',
      sha256: sha256(data),
    });
    expect(await app.ctx.reader.readProgress(id)).toMatchObject({
      metadata: { filetype: 'image/png', filename: 'cat.png' },
    });
    expect((await app.ctx.redis.smembers(app.ctx.keys.forUpload(id).chunksReceived)).sort()).toEqual([
      '0',
      '1',
      '2',
      '3',
    ]);
  });

  it('creates an empty upload first, then appends, answering HEAD and a wrong offset as the draft says', async () => {
    const data = randomBytes(2 * CHUNK + 10);
    const created = await draftRequest(app.base, 'POST', '/files', { ...interop, ...completeness(v, false) });
    expect(created.status).toBe(201);
    expect(created.informational[0]?.statusCode).toBe(104);
    expect(created.headers['upload-offset']).toBe('0');
    // "If the request did not complete the upload [...] MUST respond with 201 [...] the completeness field" false.
    expect(saysComplete(v, created.headers)).toBe(false);
    const url = pathOf(created.headers.location);
    const id = idOf(created.headers.location);

    const first = await draftRequest(app.base, 'PATCH', url, appendHeaders(v, 0, false), data.subarray(0, CHUNK + 5));
    expect(first.status).toBe(201);
    expect(first.headers['upload-offset']).toBe(String(CHUNK + 5));
    expect(saysComplete(v, first.headers)).toBe(false);
    // Appends get no 104 from this server.
    expect(first.informational).toEqual([]);

    const head = await draftRequest(app.base, 'HEAD', url, interop);
    expect(head.status).toBe(204);
    expect(head.headers['upload-offset']).toBe(String(CHUNK + 5));
    expect(saysComplete(v, head.headers)).toBe(false);
    expect(head.headers['cache-control']).toBe('no-store');
    expect(head.headers['upload-length']).toBeUndefined();

    // "If the offset [...] does not match [...] the server MUST respond with a 409 (Conflict)", with Upload-Offset.
    const wrong = await draftRequest(app.base, 'PATCH', url, appendHeaders(v, 7, true), data.subarray(7));
    expect(wrong.status).toBe(409);
    expect(wrong.headers['upload-offset']).toBe(String(CHUNK + 5));
    if (v >= 6) {
      expect(wrong.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(wrong.body.toString())).toMatchObject({
        type: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset',
        'expected-offset': CHUNK + 5,
        'provided-offset': 7,
      });
    }
    expect((await app.ctx.reader.readProgress(id))?.offset).toBe(CHUNK + 5);

    const last = await draftRequest(
      app.base,
      'PATCH',
      url,
      appendHeaders(v, CHUNK + 5, true),
      data.subarray(CHUNK + 5),
    );
    expect(last.status).toBe(201);
    expect(last.headers['upload-offset']).toBe(String(data.length));
    expect(saysComplete(v, last.headers)).toBe(true);
    expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
    expect(await app.ctx.redis.hgetall(app.ctx.keys.forUpload(id).upload)).toMatchObject({
      status: 'completed',
      size: String(data.length),
      totalChunks: '3',
      receivedChunks: '3',
      sha256: sha256(data),
    });
    const done = await draftRequest(app.base, 'HEAD', url, interop);
    expect(saysComplete(v, done.headers)).toBe(true);
    if (v >= 5) expect(done.headers['upload-length']).toBe(String(data.length));
    // The dashboard's view of it is the same as of a tus upload.
    const progress = await request(app.ctx.app).get(`/api/uploads/${id}/progress`);
    expect(progress.body).toMatchObject({ status: 'completed', percent: 100, receivedChunks: 3, totalChunks: 3 });
  });

  it('resumes a creation whose connection dropped, from the Location of its 104', async () => {
    const data = randomBytes(4 * CHUNK);
    const interim = await interruptedCreation(
      app.base,
      '/files',
      { ...interop, ...completeness(v, true) },
      data.subarray(0, CHUNK + 1000),
      data.length,
      recordedAtLeast(app.ctx.reader, CHUNK),
    );
    const url = pathOf(interim.headers.location as string);
    const id = idOf(interim.headers.location as string);
    // The HEAD ends what is left of the creation on the server and answers with what it stored.
    const head = await draftRequest(app.base, 'HEAD', url, interop);
    expect(head.status).toBe(204);
    const offset = Number(head.headers['upload-offset']);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(CHUNK + 1000);
    expect(saysComplete(v, head.headers)).toBe(false);
    // The creation said Upload-Complete with a Content-Length: that is the final size (from version 4 on;
    // -01 does not say, and the server takes it the same way).
    if (v >= 5) expect(head.headers['upload-length']).toBe(String(data.length));
    expect((await app.ctx.reader.readProgress(id))?.failedChunks).toBe(1);

    const rest = await draftRequest(app.base, 'PATCH', url, appendHeaders(v, offset, true), data.subarray(offset));
    expect(rest.status).toBe(201);
    expect(saysComplete(v, rest.headers)).toBe(true);
    expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
    expect(await app.ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', sha256: sha256(data) });
  });

  it('cancels with DELETE: 204, then the upload is 404 and nothing of it is left', async () => {
    const created = await draftRequest(
      app.base,
      'POST',
      '/files',
      { ...interop, ...completeness(v, false) },
      randomBytes(100),
    );
    const url = pathOf(created.headers.location);
    const id = idOf(created.headers.location);
    expect(existsSync(path.join(app.ctx.dir, id))).toBe(true);
    const deleted = await draftRequest(app.base, 'DELETE', url, interop);
    expect(deleted.status).toBe(204);
    expect((await draftRequest(app.base, 'HEAD', url, interop)).status).toBe(404);
    expect((await draftRequest(app.base, 'PATCH', url, appendHeaders(v, 100, true), Buffer.from('x'))).status).toBe(
      404,
    );
    expect(existsSync(path.join(app.ctx.dir, id))).toBe(false);
    expect((await app.ctx.allKeys()).filter((k) => k.includes(id))).toEqual([]);
  });

  it('refuses a HEAD or DELETE that carries Upload-Offset or the completeness field with 400', async () => {
    const created = await draftRequest(app.base, 'POST', '/files', { ...interop, ...completeness(v, false) });
    const url = pathOf(created.headers.location);
    // "The request MUST NOT include an Upload-Offset [...] The server MUST reject the request with a 400".
    for (const [method, extra] of [
      ['HEAD', { 'Upload-Offset': '0' }],
      ['HEAD', completeness(v, false)],
      ['DELETE', { 'Upload-Offset': '0' }],
    ] as const) {
      const res = await draftRequest(app.base, method, url, { ...interop, ...extra });
      expect(res.status, `${method} ${JSON.stringify(extra)}`).toBe(400);
    }
    // The DELETE that was refused deleted nothing.
    expect((await draftRequest(app.base, 'HEAD', url, interop)).status).toBe(204);
  });
});

describe('IETF Resumable Uploads: what differs between versions', () => {
  it('v3: an append without Upload-Incomplete completes the upload (-01: "omitted or set to false")', async () => {
    const created = await draftRequest(app.base, 'POST', '/files', {
      'Upload-Draft-Interop-Version': '3',
      'Upload-Incomplete': '?1',
    });
    const url = pathOf(created.headers.location);
    const res = await draftRequest(
      app.base,
      'PATCH',
      url,
      { 'Upload-Draft-Interop-Version': '3', 'Upload-Offset': '0' },
      Buffer.from('hello'),
    );
    expect(res.status).toBe(201);
    expect(res.headers['upload-incomplete']).toBe('?0');
    expect(await app.ctx.reader.readProgress(idOf(created.headers.location))).toMatchObject({
      status: 'completed',
      size: 5,
    });
  });

  it('v5: an append without Upload-Complete does not complete it (-02: complete "only if [...] set to true")', async () => {
    const created = await draftRequest(app.base, 'POST', '/files', {
      'Upload-Draft-Interop-Version': '5',
      'Upload-Complete': '?0',
    });
    const url = pathOf(created.headers.location);
    const res = await draftRequest(
      app.base,
      'PATCH',
      url,
      { 'Upload-Draft-Interop-Version': '5', 'Upload-Offset': '0' },
      Buffer.from('hello'),
    );
    expect(res.status).toBe(201);
    expect(res.headers['upload-complete']).toBe('?0');
    expect(await app.ctx.reader.readProgress(idOf(created.headers.location))).toMatchObject({
      status: 'uploading',
      offset: 5,
    });
    // An empty append that says ?1 completes it, with the length the bytes make.
    const end = await draftRequest(app.base, 'PATCH', url, {
      'Upload-Draft-Interop-Version': '5',
      'Upload-Offset': '5',
      'Upload-Complete': '?1',
    });
    expect(end.status).toBe(201);
    expect(end.headers['upload-complete']).toBe('?1');
    expect(await app.ctx.reader.readProgress(idOf(created.headers.location))).toMatchObject({
      status: 'completed',
      size: 5,
    });
  });

  it('v6: an append without Content-Type: application/partial-upload is refused and stores nothing', async () => {
    const created = await draftRequest(app.base, 'POST', '/files', {
      'Upload-Draft-Interop-Version': '6',
      'Upload-Complete': '?0',
    });
    const url = pathOf(created.headers.location);
    const id = idOf(created.headers.location);
    for (const type of [undefined, 'application/offset+octet-stream']) {
      const headers: Record<string, string> = {
        'Upload-Draft-Interop-Version': '6',
        'Upload-Offset': '0',
        'Upload-Complete': '?1',
      };
      if (type) headers['Content-Type'] = type;
      const res = await draftRequest(app.base, 'PATCH', url, headers, Buffer.from('hello'));
      expect(res.status).toBe(400);
      expect(res.headers['x-error-code']).toBe('PARTIAL_UPLOAD_TYPE_REQUIRED');
      expect(res.body.toString()).toMatch(/application\/partial-upload/);
    }
    expect(await app.ctx.reader.readProgress(id)).toMatchObject({ offset: 0, status: 'uploading', failedChunks: 0 });
  });

  it('v6: an append to a completed upload is a 400 with the completed-upload problem type', async () => {
    const created = await draftRequest(
      app.base,
      'POST',
      '/files',
      { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?1' },
      Buffer.from('done'),
    );
    const url = pathOf(created.headers.location);
    const res = await draftRequest(app.base, 'PATCH', url, appendHeaders(6, 4, true), Buffer.from('more'));
    expect(res.status).toBe(400);
    expect(res.headers['upload-offset']).toBe('4');
    expect(res.headers['upload-complete']).toBe('?1');
    expect(JSON.parse(res.body.toString())).toMatchObject({
      type: 'https://iana.org/assignments/http-problem-types#completed-upload',
    });
    // Even an empty one that only says it completes it.
    const empty = await draftRequest(app.base, 'PATCH', url, appendHeaders(6, 4, true));
    expect(empty.status).toBe(400);
    expect(empty.headers['x-error-code']).toBe('UPLOAD_ALREADY_COMPLETE');
    expect(await readFile(path.join(app.ctx.dir, idOf(created.headers.location)), 'utf8')).toBe('done');
  });

  it('v6: content past the final size is refused with 400: before any byte when Content-Length says so, at the final size when chunked', async () => {
    const created = await draftRequest(app.base, 'POST', '/files', {
      'Upload-Draft-Interop-Version': '6',
      'Upload-Complete': '?0',
      'Upload-Length': '10',
    });
    const url = pathOf(created.headers.location);
    const id = idOf(created.headers.location);
    const said = await draftRequest(app.base, 'PATCH', url, appendHeaders(6, 0, false), Buffer.from('0123456789abc'));
    expect(said.status).toBe(400);
    expect(said.headers['x-error-code']).toBe('BEYOND_FINAL_SIZE');
    expect(said.headers['upload-offset']).toBe('0');
    expect(said.headers['upload-complete']).toBe('?0');
    expect(await app.ctx.reader.readProgress(id)).toMatchObject({ offset: 0, status: 'uploading' });
    const chunked = await draftRequest(
      app.base,
      'PATCH',
      url,
      { ...appendHeaders(6, 0, false), 'Transfer-Encoding': 'chunked' },
      Buffer.from('0123456789abc'),
    );
    expect(chunked.status).toBe(400);
    expect(chunked.headers['x-error-code']).toBe('BEYOND_FINAL_SIZE');
    // The bytes up to the final size were stored, and with them the upload is whole (and says so).
    expect(chunked.headers['upload-offset']).toBe('10');
    expect(chunked.headers['upload-complete']).toBe('?1');
    expect(await readFile(path.join(app.ctx.dir, id), 'utf8')).toBe('0123456789');
  });

  it('takes structured-field parameters on integers and booleans, and refuses malformed ones', async () => {
    const created = await draftRequest(app.base, 'POST', '/files', {
      'Upload-Draft-Interop-Version': '6',
      'Upload-Complete': '?0;a=1',
    });
    expect(created.status).toBe(201);
    const url = pathOf(created.headers.location);
    const ok = await draftRequest(
      app.base,
      'PATCH',
      url,
      { ...appendHeaders(6, 0, false), 'Upload-Offset': '0;a=1' },
      Buffer.from('ab'),
    );
    expect(ok.status).toBe(201);
    const malformed: Record<string, string>[] = [
      { 'Upload-Complete': '?0;' },
      { 'Upload-Offset': '2;;' },
      { 'Upload-Offset': '-2' },
    ];
    for (const bad of malformed) {
      const res = await draftRequest(
        app.base,
        'PATCH',
        url,
        { ...appendHeaders(6, 2, false), ...bad },
        Buffer.from('cd'),
      );
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.headers['x-error-code']).toBe('INVALID_FIELD');
    }
    expect(
      (await draftRequest(app.base, 'HEAD', url, { 'Upload-Draft-Interop-Version': '6' })).headers['upload-offset'],
    ).toBe('2');
  });

  it("leaves nothing locked when a creation's client goes away before its body is read", async () => {
    const { request: httpRequest } = await import('node:http');
    const { hostname, port } = new URL(app.base);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const req = httpRequest({
          host: hostname,
          port,
          method: 'POST',
          path: '/files',
          agent: false,
          headers: { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?1', 'Content-Length': '1000' },
        });
        req.on('error', () => resolve());
        req.on('information', (info) => {
          if (info.headers.location) ids.push(idOf(String(info.headers.location)));
        });
        req.write(Buffer.alloc(10));
        setTimeout(() => {
          req.destroy();
          resolve();
        }, i * 3);
      });
    }
    // Every upload that was created has its lock released, and a HEAD finds it at once.
    await waitFor(async () => (await app.ctx.allKeys()).every((k) => !k.includes(':lock:')), { what: 'no lock left' });
    for (const id of ids) {
      const head = await draftRequest(app.base, 'HEAD', `/files/${id}`, { 'Upload-Draft-Interop-Version': '6' });
      expect(head.status).toBe(204);
    }
  });

  it('answers an incomplete creation of an interop version it does not speak with 400, no 104, and creates nothing', async () => {
    const res = await draftRequest(
      app.base,
      'POST',
      '/files',
      { 'Upload-Draft-Interop-Version': '11', 'Upload-Complete': '?0' },
      Buffer.from('x'),
    );
    expect(res.status).toBe(400);
    expect(res.informational).toEqual([]);
    expect(res.body.toString()).toMatch(/interop versions 3, 4, 5, 6, 7, 8, 9, 10/);
    expect(await app.ctx.allKeys()).toEqual([]);
  });

  it('refuses a creation that does not say whether it is complete, and one whose lengths disagree, creating nothing', async () => {
    const missing = await draftRequest(
      app.base,
      'POST',
      '/files',
      { 'Upload-Draft-Interop-Version': '6' },
      Buffer.from('x'),
    );
    expect(missing.status).toBe(400);
    expect(missing.body.toString()).toMatch(/must carry Upload-Complete/);
    const disagree = await draftRequest(
      app.base,
      'POST',
      '/files',
      { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?1', 'Upload-Length': '5' },
      Buffer.from('abc'),
    );
    expect(disagree.status).toBe(400);
    expect(disagree.headers['x-error-code']).toBe('LENGTH_INCONSISTENT');
    expect(missing.informational).toEqual([]);
    expect(disagree.informational).toEqual([]);
    expect(await app.ctx.allKeys()).toEqual([]);
  });

  it('OPTIONS names the limits in Upload-Limit (-05: "MUST include the Upload-Limit header field")', async () => {
    const limited = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK), MAX_SIZE_BYTES: '1000000' });
    try {
      const limitedBase = await limited.listen();
      for (const headers of [{ 'Upload-Draft-Interop-Version': '6' }, {}] as Record<string, string>[]) {
        const res = await draftRequest(limitedBase, 'OPTIONS', '/files', headers);
        expect(res.status).toBe(204);
        expect(res.headers['upload-limit']).toBe('min-size=0, max-size=1000000');
      }
      // The same limit on a creation of version 6, in its 104 and its 201.
      const created = await draftRequest(limitedBase, 'POST', '/files', {
        'Upload-Draft-Interop-Version': '6',
        'Upload-Complete': '?0',
      });
      expect(created.informational[0]?.headers['upload-limit']).toBe('min-size=0, max-size=1000000');
      expect(created.headers['upload-limit']).toBe('min-size=0, max-size=1000000');
      const tooLarge = await draftRequest(limitedBase, 'POST', '/files', {
        'Upload-Draft-Interop-Version': '6',
        'Upload-Complete': '?0',
        'Upload-Length': '1000001',
      });
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.informational).toEqual([]);
    } finally {
      await limited.close();
    }
  });
});
