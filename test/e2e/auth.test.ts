import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { Upload } from 'tus-js-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { createUpload, getBytes, head, patch, rawRequest, TUS } from '../helpers/tus.js';
import { keysOfUpload } from '../helpers/upload-keys.js';

const SECRET = 'a-jwt-secret-of-at-least-32-characters!';
const key = new TextEncoder().encode(SECRET);

/** A token for `sub`, valid for a minute unless `expiresAt` (seconds since the epoch) says otherwise. */
async function token(sub: string, claims: Record<string, unknown> = {}, expiresAt?: number, secret = key) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(expiresAt ?? '1m')
    .sign(secret);
}
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

let ctx: TestContext;
afterEach(() => ctx?.close());

/** Upload keys of this test's prefix (the per-owner set is not an upload). */
async function uploadKeys(): Promise<string[]> {
  return (await ctx.allKeys()).filter((k) => k.startsWith(`${ctx.prefix}upload:`));
}

describe('bearer tokens (JWT) and ownership', () => {
  it('records the owner at creation and refuses every other user on HEAD, PATCH, GET, DELETE, progress, missing and events', async () => {
    ctx = await createTestContext({ AUTH_JWT_SECRET: SECRET });
    const base = await ctx.listen();
    const agent = request(base);
    const alice = bearer(await token('alice'));
    const bob = bearer(await token('bob'));
    const data = randomBytes(3000);

    const { res, path: url, id } = await createUpload(agent, { size: data.length, headers: alice });
    expect(res.status).toBe(201);
    expect(await ctx.redis.hget(keysOfUpload(ctx.prefix, id).upload, 'owner')).toBe('alice');
    expect((await patch(agent, url, 0, data.subarray(0, 1000)).set(alice)).status).toBe(204);

    // Bob is refused everywhere, before any byte of his is stored.
    const bobHead = await head(agent, url).set(bob);
    expect(bobHead.status).toBe(403);
    expect(bobHead.headers['tus-resumable']).toBe('1.0.0');
    const bobPatch = await patch(agent, url, 1000, data.subarray(1000)).set(bob);
    expect(bobPatch.status).toBe(403);
    expect(bobPatch.text).toMatch(/belongs to another user/);
    expect((await stat(path.join(ctx.dir, id))).size).toBe(1000);
    expect((await agent.delete(url).set(TUS).set(bob)).status).toBe(403);
    for (const api of [`/api/uploads/${id}/progress`, `/api/uploads/${id}/missing`, `/api/upload/progress/${id}`]) {
      const refused = await agent.get(api).set(bob);
      expect(refused.status, api).toBe(403);
      expect(refused.body.error.code, api).toBe('FORBIDDEN');
    }
    expect((await agent.post('/api/upload/retry').set(bob).send({ uploadId: id })).status).toBe(403);
    const events = await fetch(`${base}/api/uploads/${id}/events`, { headers: bob });
    expect(events.status).toBe(403);
    await events.body?.cancel();

    // Alice goes on; the finished file is hers to read, and only hers.
    expect((await patch(agent, url, 1000, data.subarray(1000)).set(alice)).status).toBe(204);
    expect((await getBytes(agent, url, bob)).status).toBe(403);
    const download = await getBytes(agent, url, alice);
    expect(download.status).toBe(200);
    expect(Buffer.compare(download.body as Buffer, data)).toBe(0);
    // EventSource and links cannot set headers: ?access_token= (RFC 6750) does the same.
    const aliceToken = alice.Authorization.slice('Bearer '.length);
    expect((await agent.get(`/api/uploads/${id}/progress?access_token=${aliceToken}`)).body.percent).toBe(100);
    expect((await agent.get(`/api/uploads/${id}/progress?access_token=${bob.Authorization.slice(7)}`)).status).toBe(
      403,
    );
    expect((await agent.delete(url).set(TUS).set(bob)).status).toBe(403);
    expect((await agent.delete(url).set(TUS).set(alice)).status).toBe(204);
  });

  it('refuses paths with dot segments, which would name an upload the owner check did not see', async () => {
    ctx = await createTestContext({ AUTH_JWT_SECRET: SECRET });
    const base = await ctx.listen();
    const agent = request(base);
    const alice = bearer(await token('alice'));
    const bob = bearer(await token('bob'));
    const data = randomBytes(2000);
    const { path: url, id } = await createUpload(agent, { size: data.length, headers: alice });
    expect((await patch(agent, url, 0, data).set(alice)).status).toBe(204);
    const sneaky = [`/files/x/../${id}`, `/files/%2e%2e/files/${id}`, `/files/./${id}`, `/files/x\\..\\${id}`];
    for (const path of sneaky) {
      for (const [method, headers] of [
        ['GET', {}],
        ['HEAD', { ...TUS, ...bob }],
        ['PATCH', { ...TUS, ...bob, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '2000' }],
        ['DELETE', { ...TUS, ...bob }],
      ] as const) {
        const res = await rawRequest(base, method, path, headers, method === 'PATCH' ? Buffer.from('x') : undefined);
        expect(res.status, `${method} ${path}`).toBe(400);
        expect(res.body.toString(), `${method} ${path}`).not.toContain(data.subarray(0, 16).toString('latin1'));
      }
    }
    const downloaded = await getBytes(agent, url, alice);
    expect(Buffer.compare(downloaded.body, data)).toBe(0);
    expect((await getBytes(agent, url)).status).toBe(401);
  });

  it('answers 401 with WWW-Authenticate to a missing, expired, forged or subject-less token, and stores nothing', async () => {
    ctx = await createTestContext({ AUTH_JWT_SECRET: SECRET });
    const agent = request(await ctx.listen());
    const past = Math.floor(Date.now() / 1000) - 60;
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['none', {}, /needs a bearer token/],
      ['expired', bearer(await token('alice', {}, past)), /expired/],
      ['forged', bearer(await token('alice', {}, undefined, new TextEncoder().encode('x'.repeat(40)))), /signature/],
      ['garbage', bearer('not.a.jwt'), /not a valid JWT/],
      ['unsigned', bearer(`${b64({ alg: 'none' })}.${b64({ sub: 'alice' })}.`), /not a valid JWT|algorithm/],
      ['no sub', bearer(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(key)), /subject/],
    ];
    for (const [name, headers, message] of cases) {
      const res = await createUpload(agent, { size: 10, headers });
      expect(res.res.status, name).toBe(401);
      expect(res.res.text, name).toMatch(message);
      expect(res.res.headers['www-authenticate'], name).toMatch(/^Bearer realm="uploads", error="invalid_token"/);
      expect(res.res.headers['tus-resumable'], name).toBe('1.0.0');
    }
    expect(await uploadKeys()).toEqual([]);
    expect(await readdir(ctx.dir)).toEqual([]);
    // An upload of someone's is no easier to touch without a token.
    const { path: url } = await createUpload(agent, { size: 10, headers: bearer(await token('alice')) });
    expect((await head(agent, url)).status).toBe(401);
    expect((await agent.get(`/api/uploads/${url.split('/').pop()}/progress`)).status).toBe(401);
  });

  it('verifies RS256 tokens with a configured public key, and refuses an HS256 token made with that key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const pem = await exportSPKI(publicKey);
    ctx = await createTestContext({ AUTH_JWT_PUBLIC_KEY: pem.replaceAll('\n', '\\n'), AUTH_JWT_ISSUER: 'https://app' });
    const agent = request(await ctx.listen());
    const signed = (issuer: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'RS256' })
        .setSubject('carol')
        .setIssuer(issuer)
        .setExpirationTime('1m');
    expect(
      (await createUpload(agent, { size: 5, headers: bearer(await signed('https://app').sign(privateKey)) })).res
        .status,
    ).toBe(201);
    const otherIssuer = await createUpload(agent, {
      size: 5,
      headers: bearer(await signed('https://evil').sign(privateKey)),
    });
    expect(otherIssuer.res.status).toBe(401);
    expect(otherIssuer.res.text).toMatch(/iss claim/);
    // Algorithm confusion: the public key used as an HMAC secret.
    const confused = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('carol')
      .setIssuer('https://app')
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(pem));
    expect((await createUpload(agent, { size: 5, headers: bearer(confused) })).res.status).toBe(401);
  });

  it("lets tus-js-client upload with a token; another user's client cannot resume it", async () => {
    ctx = await createTestContext({ AUTH_JWT_SECRET: SECRET, CHUNK_SIZE_BYTES: String(64 * 1024) });
    const base = await ctx.listen();
    const data = randomBytes(300 * 1024);
    const alice = bearer(await token('alice'));
    const upload = (headers: Record<string, string>, uploadUrl?: string) =>
      new Promise<string>((resolve, reject) => {
        const u = new Upload(data, {
          endpoint: `${base}/files`,
          uploadUrl,
          headers,
          chunkSize: 100 * 1024,
          retryDelays: [],
          onSuccess: () => resolve(u.url as string),
          onError: reject,
        });
        u.start();
      });
    const url = await upload(alice);
    const bobToken = await token('bob');
    expect((await ctx.reader.readRecord(url.split('/').pop() as string))?.owner).toBe('alice');
    const download = await getBytes(request(base), new URL(url).pathname, alice);
    expect(sha256(download.body as Buffer)).toBe(sha256(data));
    // Bob's client given Alice's URL gets 403 on its HEAD and, as tus-js-client does on a 4xx, creates an upload of his own.
    const bobs = await upload(bearer(bobToken), url);
    expect(bobs).not.toBe(url);
    expect((await ctx.reader.readRecord(bobs.split('/').pop() as string))?.owner).toBe('bob');
    expect((await ctx.reader.readRecord(url.split('/').pop() as string))?.owner).toBe('alice');
    // Without an endpoint to fall back on, it reports the refusal.
    const refused = new Promise<string>((resolve, reject) => {
      new Upload(data, {
        uploadUrl: url,
        headers: bearer(bobToken),
        retryDelays: [],
        onSuccess: () => resolve('done'),
        onError: reject,
      }).start();
    });
    await expect(refused).rejects.toThrow(/response code: 403/);
  });
});

describe('per-owner limits', () => {
  it('refuses an upload over the owner size limit before storing anything; a token claim raises it', async () => {
    ctx = await createTestContext({ AUTH_JWT_SECRET: SECRET, OWNER_MAX_SIZE_BYTES: '1000' });
    const agent = request(await ctx.listen());
    const alice = bearer(await token('alice'));
    const tooLarge = await createUpload(agent, { size: 1001, headers: alice });
    expect(tooLarge.res.status).toBe(413);
    // With its body in the creation request too: refused before the body is read.
    const withBody = await createUpload(agent, { size: 2000, body: randomBytes(2000), headers: alice });
    expect(withBody.res.status).toBe(413);
    expect(await uploadKeys()).toEqual([]);
    expect(await readdir(ctx.dir)).toEqual([]);
    // Deferred length: the declared length is held to the same limit.
    const deferred = await createUpload(agent, { headers: alice });
    expect(deferred.res.status).toBe(201);
    const declared = await patch(agent, deferred.path, 0, randomBytes(10)).set(alice).set('Upload-Length', '5000');
    expect(declared.status).toBe(413);
    expect((await head(agent, deferred.path).set(alice)).headers['upload-offset']).toBe('0');
    const big = bearer(await token('big', { upload_max_size: 5000 }));
    expect((await createUpload(agent, { size: 5000, headers: big })).res.status).toBe(201);
    expect((await createUpload(agent, { size: 5001, headers: big })).res.status).toBe(413);
  });

  it('refuses a new upload (429) while the owner has the most unfinished ones; finishing or deleting one frees a slot', async () => {
    ctx = await createTestContext({ AUTH_JWT_SECRET: SECRET, OWNER_MAX_CONCURRENT_UPLOADS: '2' });
    const agent = request(await ctx.listen());
    const alice = bearer(await token('alice'));
    const first = await createUpload(agent, { size: 10, headers: alice });
    const second = await createUpload(agent, { size: 10, headers: alice });
    expect([first.res.status, second.res.status]).toEqual([201, 201]);
    const before = await uploadKeys();
    const third = await createUpload(agent, { size: 10, headers: alice });
    expect(third.res.status).toBe(429);
    expect(third.res.text).toMatch(/2 unfinished uploads/);
    expect(await uploadKeys()).toEqual(before);
    expect((await readdir(ctx.dir)).length).toBe(2);
    // Someone else is not counted against Alice's limit.
    expect((await createUpload(agent, { size: 10, headers: bearer(await token('bob')) })).res.status).toBe(201);
    // Completing one frees a slot; deleting one frees another.
    expect((await patch(agent, first.path, 0, randomBytes(10)).set(alice)).status).toBe(204);
    expect((await createUpload(agent, { size: 10, headers: alice })).res.status).toBe(201);
    expect((await createUpload(agent, { size: 10, headers: alice })).res.status).toBe(429);
    expect((await agent.delete(second.path).set(TUS).set(alice)).status).toBe(204);
    expect((await createUpload(agent, { size: 10, headers: alice })).res.status).toBe(201);
  });

  it('frees the slots of partial uploads joined into a final one, and of finished uploads when the limit is lowered', async () => {
    ctx = await createTestContext({ AUTH_JWT_SECRET: SECRET, OWNER_MAX_CONCURRENT_UPLOADS: '2' });
    const agent = request(await ctx.listen());
    const alice = bearer(await token('alice'));
    const parts = [];
    for (const body of ['ab', 'cd']) {
      const part = await createUpload(agent, {
        size: 2,
        body: Buffer.from(body),
        headers: { ...alice, 'Upload-Concat': 'partial' },
      });
      expect(part.res.status).toBe(201);
      parts.push(part.path);
    }
    const final = await agent
      .post('/files')
      .set(TUS)
      .set(alice)
      .set('Upload-Concat', `final;${parts.join(' ')}`);
    expect(final.status).toBe(201);
    expect((await head(agent, parts[0] as string).set(alice)).status).toBe(404);
    // The partials are gone, so Alice has nothing unfinished: two new uploads fit.
    expect((await createUpload(agent, { size: 10, headers: alice })).res.status).toBe(201);
    expect((await createUpload(agent, { size: 10, headers: alice })).res.status).toBe(201);

    // Carol had a limit of 5 (1 unfinished, 4 completed); a token with a limit of 2 still lets her create one more.
    const carol5 = bearer(await token('carol', { upload_max_concurrent: 5 }));
    expect((await createUpload(agent, { size: 10, headers: carol5 })).res.status).toBe(201);
    for (let i = 0; i < 4; i++) {
      expect((await createUpload(agent, { size: 1, body: Buffer.from('x'), headers: carol5 })).res.status).toBe(201);
    }
    const carol2 = bearer(await token('carol', { upload_max_concurrent: 2 }));
    expect((await createUpload(agent, { size: 10, headers: carol2 })).res.status).toBe(201);
    expect((await createUpload(agent, { size: 10, headers: carol2 })).res.status).toBe(429);
  });

  it('counts concurrent creations exactly: 10 at once with a limit of 3 create 3', async () => {
    ctx = await createTestContext({ AUTH_JWT_SECRET: SECRET, OWNER_MAX_CONCURRENT_UPLOADS: '3' });
    const agent = request(await ctx.listen());
    const alice = bearer(await token('alice'));
    const results = await Promise.all(
      Array.from({ length: 10 }, () => createUpload(agent, { size: 10, headers: alice })),
    );
    const statuses = results.map((r) => r.res.status).sort();
    expect(statuses).toEqual([201, 201, 201, 429, 429, 429, 429, 429, 429, 429]);
  });
});

describe('concatenation and groups', () => {
  it('refuses to concatenate partial uploads of another user; group names are per owner', async () => {
    ctx = await createTestContext({ AUTH_JWT_SECRET: SECRET });
    const base = await ctx.listen();
    const agent = request(base);
    const alice = bearer(await token('alice'));
    const bob = bearer(await token('bob'));
    const partial = { ...alice, 'Upload-Concat': 'partial' };
    const a = await createUpload(agent, {
      size: 4,
      body: Buffer.from('abcd'),
      headers: partial,
      metadata: { group: 'g1' },
    });
    const b = await createUpload(agent, {
      size: 4,
      body: Buffer.from('efgh'),
      headers: partial,
      metadata: { group: 'g1' },
    });
    const concat = `final;${base}${a.path} ${base}${b.path}`;
    const stolen = await agent.post('/files').set(TUS).set(bob).set('Upload-Concat', concat);
    expect(stolen.status).toBe(403);
    // Group names are per owner: Bob's g1 is his own (empty), and adding to it does not touch Alice's.
    expect((await agent.get('/api/groups/g1/progress').set(bob)).status).toBe(404);
    const bobs = await createUpload(agent, { size: 1, headers: bob, metadata: { group: 'g1' } });
    expect(bobs.res.status).toBe(201);
    const bobsGroup = await agent.get('/api/groups/g1/progress').set(bob);
    expect(bobsGroup.body.parts.map((p: { id: string }) => p.id)).toEqual([bobs.id]);
    const alicesGroup = await agent.get('/api/groups/g1/progress').set(alice);
    expect(alicesGroup.status).toBe(200);
    expect(alicesGroup.body.parts.map((p: { id: string }) => p.id).sort()).toEqual([a.id, b.id].sort());
    const own = await agent.post('/files').set(TUS).set(alice).set('Upload-Concat', concat);
    expect(own.status).toBe(201);
    const finalId = String(own.headers.location).split('/').pop() as string;
    expect((await ctx.reader.readRecord(finalId))?.owner).toBe('alice');
    expect((await agent.get('/api/groups/g1/progress').set(alice)).status).toBe(200);
    // The same request again (a retry) by someone else does not hand them the final.
    expect((await agent.post('/files').set(TUS).set(bob).set('Upload-Concat', concat)).status).toBe(403);
  });
});

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
