import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import request from 'supertest';
import { type DetailedError, Upload } from 'tus-js-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { type HookAnswer, startHookServer } from '../helpers/hook-server.js';
import { freePort } from '../helpers/server-process.js';
import { createUpload, getBytes, head, patch, TUS } from '../helpers/tus.js';
import { keysOfUpload } from '../helpers/upload-keys.js';

let ctx: TestContext | undefined;
const hooks: Array<Awaited<ReturnType<typeof startHookServer>>> = [];
afterEach(async () => {
  await ctx?.close();
  ctx = undefined;
  for (const hook of hooks.splice(0)) await hook.close();
});

async function hookServer(answer: (body: Record<string, unknown>) => HookAnswer) {
  const hook = await startHookServer(answer);
  hooks.push(hook);
  return hook;
}

async function context(env: Record<string, string>): Promise<TestContext> {
  ctx = await createTestContext(env);
  return ctx;
}

/** Upload records of this test's prefix: a refused creation must leave none. */
async function uploadKeys(c: TestContext): Promise<string[]> {
  return (await c.allKeys()).filter((k) => k.startsWith(`${c.prefix}upload:`));
}

type Seen = { upload: Record<string, unknown>; headers: Record<string, string> };

describe('pre-create hook', () => {
  it('refuses with its status and message; nothing is created in Redis or on disk, also with a body attached', async () => {
    const hook = await hookServer(() => ({ status: 422, json: { message: 'Only PDF files may be uploaded here' } }));
    const c = await context({ PRE_CREATE_HOOK_URL: hook.url });
    const agent = request(c.app);

    const plain = await createUpload(agent, { size: 5, metadata: { filename: 'cat.gif' } });
    expect(plain.res.status).toBe(422);
    expect(plain.res.text).toBe('Only PDF files may be uploaded here\n');
    expect(plain.res.headers['tus-resumable']).toBe('1.0.0');
    expect(plain.res.headers.location).toBeUndefined();

    const withBody = await createUpload(agent, { size: 5, body: Buffer.from('hello'), metadata: { filename: 'x' } });
    expect(withBody.res.status).toBe(422);

    expect(hook.received).toHaveLength(2);
    const seen = hook.received[0] as Seen;
    expect(seen.upload).toMatchObject({ size: 5, metadata: { filename: 'cat.gif' } });
    expect(seen.upload.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await uploadKeys(c)).toEqual([]);
    expect(await readdir(c.dir)).toEqual([]);
  });

  it('shows tus-js-client the hook status and message', async () => {
    const hook = await hookServer(() => ({ status: 403, text: 'Your plan allows 10 uploads a day' }));
    const c = await context({ PRE_CREATE_HOOK_URL: hook.url });
    const base = await c.listen();
    const error = await new Promise<DetailedError | Error>((resolve, reject) => {
      const upload = new Upload(Buffer.from('data'), {
        endpoint: `${base}/files`,
        retryDelays: [],
        onSuccess: () => reject(new Error('the upload should have been refused')),
        onError: resolve,
      });
      upload.start();
    });
    const refused = (error as DetailedError).originalResponse;
    expect(refused?.getStatus()).toBe(403);
    expect(refused?.getBody()).toBe('Your plan allows 10 uploads a day\n');
    expect(await uploadKeys(c)).toEqual([]);
  });

  it('changes the metadata the upload is created with', async () => {
    const hook = await hookServer((body) => {
      const upload = body.upload as { metadata: Record<string, string> };
      return { status: 200, json: { metadata: { ...upload.metadata, filename: 'renamed.txt', tenant: 'acme' } } };
    });
    const c = await context({ PRE_CREATE_HOOK_URL: hook.url });
    const agent = request(c.app);
    const { res, path: url, id } = await createUpload(agent, { size: 3, metadata: { filename: 'a b.txt', kind: 'x' } });
    expect(res.status).toBe(201);
    const record = await c.redis.hget(keysOfUpload(c.prefix, id).upload, 'metadata');
    expect(JSON.parse(record as string)).toEqual({ filename: 'renamed.txt', tenant: 'acme', kind: 'x' });
    const headed = await head(agent, url);
    expect(headed.headers['upload-metadata']).toContain(`tenant ${Buffer.from('acme').toString('base64')}`);
    expect((await patch(agent, url, 0, Buffer.from('abc'))).status).toBe(204);
    const downloaded = await getBytes(agent, url);
    expect(downloaded.headers['content-disposition']).toContain('renamed.txt');
  });

  it('refuses with 502, creating nothing, when the hook answers 2xx with metadata that is not valid', async () => {
    const hook = await hookServer(() => ({ status: 200, json: { metadata: { 'has space': 'x' } } }));
    const c = await context({ PRE_CREATE_HOOK_URL: hook.url });
    const { res } = await createUpload(request(c.app), { size: 3 });
    expect(res.status).toBe(502);
    expect(res.text).toMatch(/pre-create hook .*invalid metadata/);
    expect(await uploadKeys(c)).toEqual([]);
  });

  it('fails closed with 503 and Retry-After when the hook cannot be reached or is too slow', async () => {
    const c = await context({ PRE_CREATE_HOOK_URL: `http://127.0.0.1:${await freePort()}/hook` });
    const down = await createUpload(request(c.app), { size: 3 });
    expect(down.res.status).toBe(503);
    expect(down.res.headers['retry-after']).toBe('1');
    expect(down.res.text).toMatch(/pre-create hook is unavailable \(it could not be reached\)/);
    await c.close();

    const slow = await hookServer(() => ({ status: 200, delayMs: 1000 }));
    const d = await context({ PRE_CREATE_HOOK_URL: slow.url, HOOK_TIMEOUT_MS: '200' });
    const late = await createUpload(request(d.app), { size: 3 });
    expect(late.res.status).toBe(503);
    expect(late.res.text).toMatch(/no answer within 200 ms/);
    expect(await uploadKeys(d)).toEqual([]);
  });

  it('is asked for partial and final uploads too; a refused final leaves its partials as they were', async () => {
    const hook = await hookServer((body) =>
      (body.upload as { concat?: string }).concat === 'final'
        ? { status: 409, json: { message: 'Joining files is not allowed for this project' } }
        : { status: 204 },
    );
    const c = await context({ PRE_CREATE_HOOK_URL: hook.url });
    const agent = request(c.app);
    const partials: string[] = [];
    for (const part of ['ab', 'cd']) {
      const { res, path: url } = await createUpload(agent, {
        size: 2,
        body: Buffer.from(part),
        headers: { 'Upload-Concat': 'partial' },
      });
      expect(res.status).toBe(201);
      partials.push(url);
    }
    const before = await uploadKeys(c);
    const final = await agent
      .post('/files')
      .set(TUS)
      .set('Upload-Concat', `final;${partials.join(' ')}`);
    expect(final.status).toBe(409);
    expect(final.text).toBe('Joining files is not allowed for this project\n');
    expect(hook.received.map((b) => (b as Seen).upload.concat)).toEqual(['partial', 'partial', 'final']);
    expect(await uploadKeys(c)).toEqual(before);
    for (const url of partials) expect((await head(agent, url)).headers['upload-offset']).toBe('2');
  });
});

describe('pre-request hook', () => {
  /** The application's decision: the caller is the X-User header; "small" users may upload at most 10 bytes. */
  function application(body: Record<string, unknown>): HookAnswer {
    const user = (body.headers as Record<string, string>)['x-user'];
    if (!user) return { status: 401, json: { message: 'Sign in to upload' } };
    if (user === 'banned') return { status: 403, text: 'Your account is suspended' };
    return { status: 200, json: { owner: user, ...(user === 'small' ? { limits: { maxSizeBytes: 10 } } : {}) } };
  }

  it('is asked before every request that touches an upload, with the intent and the recorded owner', async () => {
    const hook = await hookServer(application);
    const c = await context({ PRE_REQUEST_HOOK_URL: hook.url });
    const agent = request(c.app);
    const alice = { 'X-User': 'alice' };
    const { res, path: url, id } = await createUpload(agent, { size: 4, headers: alice });
    expect(res.status).toBe(201);
    expect(await c.redis.hget(keysOfUpload(c.prefix, id).upload, 'owner')).toBe('alice');
    expect((await head(agent, url).set(alice)).status).toBe(200);
    expect((await patch(agent, url, 0, Buffer.from('data'), alice)).status).toBe(204);
    expect((await getBytes(agent, url, alice)).body.toString()).toBe('data');
    expect((await agent.get(`/api/uploads/${id}/progress`).set(alice)).status).toBe(200);
    expect((await agent.delete(url).set(TUS).set(alice)).status).toBe(204);

    const asked = hook.received.map((b) => [b.intent, b.method, b.uploadId, b.owner]);
    expect(asked).toEqual([
      ['create', 'POST', undefined, undefined],
      ['resume', 'HEAD', id, 'alice'],
      ['resume', 'PATCH', id, 'alice'],
      ['read', 'GET', id, 'alice'],
      ['read', 'GET', id, 'alice'],
      ['delete', 'DELETE', id, 'alice'],
    ]);
    expect(hook.received[2]?.url).toBe(url);
  });

  it('refuses with the hook status and message; the recorded owner is enforced on what the hook allows', async () => {
    const hook = await hookServer(application);
    const c = await context({ PRE_REQUEST_HOOK_URL: hook.url });
    const agent = request(c.app);

    const anonymous = await createUpload(agent, { size: 4, body: Buffer.from('data') });
    expect(anonymous.res.status).toBe(401);
    expect(anonymous.res.text).toBe('Sign in to upload\n');
    expect(anonymous.res.headers['www-authenticate']).toMatch(/^Bearer /);
    const banned = await createUpload(agent, { size: 4, headers: { 'X-User': 'banned' } });
    expect(banned.res.status).toBe(403);
    expect(banned.res.text).toBe('Your account is suspended\n');
    expect(await uploadKeys(c)).toEqual([]);
    expect(await readdir(c.dir)).toEqual([]);

    const { path: url, id } = await createUpload(agent, { size: 4, headers: { 'X-User': 'alice' } });
    const bob = { 'X-User': 'bob' };
    expect((await head(agent, url).set(bob)).status).toBe(403);
    expect((await patch(agent, url, 0, Buffer.from('evil'), bob)).status).toBe(403);
    expect((await agent.get(`/api/uploads/${id}/missing`).set(bob)).status).toBe(403);
    expect(await c.redis.hget(keysOfUpload(c.prefix, id).upload, 'offset')).toBe('0');
  });

  it('passes on any message the hook gives (accents, arrows, control characters) without breaking a header', async () => {
    const hook = await hookServer((body) =>
      body.method === 'POST'
        ? { status: 401, json: { message: 'Bitte anmelden → Login ✓' } }
        : { status: 403, text: 'nope\u0000\r\nSet-Cookie: x=1' },
    );
    const c = await context({ PRE_REQUEST_HOOK_URL: hook.url });
    const agent = request(c.app);
    const created = await createUpload(agent, { size: 10 });
    expect(created.res.status).toBe(401);
    expect(created.res.text).toBe('Bitte anmelden → Login ✓\n');
    expect(created.res.headers['www-authenticate']).toBe(
      'Bearer realm="uploads", error="invalid_token", error_description="Bitte anmelden  Login "',
    );
    const progress = await agent.get(`/api/uploads/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/progress`);
    expect(progress.status).toBe(403);
    expect(progress.body.error).toMatchObject({ code: 'FORBIDDEN', message: 'nope Set-Cookie: x=1' });
    expect(progress.headers['set-cookie']).toBeUndefined();
  });

  it('applies the limits the hook grants before any byte is stored', async () => {
    const hook = await hookServer(application);
    const c = await context({ PRE_REQUEST_HOOK_URL: hook.url });
    const agent = request(c.app);
    const small = { 'X-User': 'small' };
    const tooBig = await createUpload(agent, { size: 11, body: randomBytes(11), headers: small });
    expect(tooBig.res.status).toBe(413);
    expect(tooBig.res.text).toBe('This upload is 11 bytes; your uploads may be at most 10 bytes\n');
    expect(await uploadKeys(c)).toEqual([]);
    expect((await createUpload(agent, { size: 10, headers: small })).res.status).toBe(201);
    expect((await createUpload(agent, { size: 11, headers: { 'X-User': 'large' } })).res.status).toBe(201);
  });

  it('answers 502 to a hook answer it cannot read, and 503 when the hook is down', async () => {
    const garbled = await hookServer(() => ({ status: 200, json: { owner: 42 } }));
    const c = await context({ PRE_REQUEST_HOOK_URL: garbled.url });
    const refused = await createUpload(request(c.app), { size: 1 });
    expect(refused.res.status).toBe(502);
    expect(refused.res.text).toMatch(/pre-request hook answered with something other than/);
    await c.close();

    const d = await context({ PRE_REQUEST_HOOK_URL: `http://127.0.0.1:${await freePort()}/hook` });
    const down = await request(d.app).get(`/api/uploads/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/progress`);
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBe('1');
    expect(down.body.error.code).toBe('HOOK_UNAVAILABLE');
  });
});
