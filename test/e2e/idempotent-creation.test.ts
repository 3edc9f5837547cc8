import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SignJWT } from 'jose';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { appPerTest } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { draftRequest, interruptedCreation, recordedAtLeast } from '../helpers/draft.js';
import { createUpload, patch } from '../helpers/tus.js';

const CHUNK = 64 * 1024;
const SECRET = 'a-jwt-secret-of-at-least-32-characters!';
const app = appPerTest({ CHUNK_SIZE_BYTES: String(CHUNK), AUTH_JWT_SECRET: SECRET });

const bearer = async (sub: string) => ({
  Authorization: `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).sign(new TextEncoder().encode(SECRET))}`,
});
const uploadIds = async () => new Set((await app.ctx.allKeys()).flatMap((k) => app.ctx.keys.uploadIdOf(k) ?? []));

/**
 * Idempotency-Key on a creation (draft-ietf-httpapi-idempotency-key-header; tusd's open work #1366): a creation
 * retried after its reply was lost gets the same upload and its current offset, per owner, as long as the upload lives.
 */
describe('a creation retried with its Idempotency-Key', () => {
  it('tus: gets the same upload and where it stands, not a second one; its body is not stored again', async () => {
    const agent = request(app.ctx.app);
    const alice = await bearer('alice');
    const key = { ...alice, 'Idempotency-Key': `"${randomUUID()}"` };
    const data = randomBytes(3 * CHUNK);
    const first = await createUpload(agent, { size: data.length, body: data.subarray(0, CHUNK + 9), headers: key });
    expect(first.res.status).toBe(201);
    expect(first.res.headers['upload-offset']).toBe(String(CHUNK + 9));
    // The reply was lost; the client sends the same creation again.
    const again = await createUpload(agent, { size: data.length, body: data.subarray(0, CHUNK + 9), headers: key });
    expect(again.res.status).toBe(201);
    expect(again.path).toBe(first.path);
    expect(again.res.headers['upload-offset']).toBe(String(CHUNK + 9));
    expect(again.res.headers['upload-expires']).toBeDefined();
    expect(await uploadIds()).toEqual(new Set([first.id]));
    const rest = await patch(agent, first.path, CHUNK + 9, data.subarray(CHUNK + 9)).set(alice);
    expect(rest.status).toBe(204);
    expect(sha256(await readFile(path.join(app.ctx.dir, first.id)))).toBe(sha256(data));
    expect(await app.ctx.reader.readProgress(first.id)).toMatchObject({ status: 'completed', failedChunks: 0 });
  });

  it('is per owner: the same key from another owner makes another upload', async () => {
    const agent = request(app.ctx.app);
    const key = { 'Idempotency-Key': 'same-key' };
    const alice = await createUpload(agent, { size: 10, headers: { ...key, ...(await bearer('alice')) } });
    const bob = await createUpload(agent, { size: 10, headers: { ...key, ...(await bearer('bob')) } });
    expect(alice.res.status).toBe(201);
    expect(bob.res.status).toBe(201);
    expect(bob.id).not.toBe(alice.id);
    expect(await uploadIds()).toEqual(new Set([alice.id, bob.id]));
  });

  it('refuses the key for an upload of another size (422), and a malformed key (400), creating nothing', async () => {
    const agent = request(app.ctx.app);
    const headers = { 'Idempotency-Key': 'k1', ...(await bearer('alice')) };
    const first = await createUpload(agent, { size: 10, headers });
    const other = await createUpload(agent, { size: 11, headers });
    expect(other.res.status).toBe(422);
    expect(other.res.headers['x-error-code']).toBe('IDEMPOTENCY_KEY_REUSED');
    const bad = await createUpload(agent, { size: 10, headers: { ...headers, 'Idempotency-Key': '""' } });
    expect(bad.res.status).toBe(400);
    expect(bad.res.headers['x-error-code']).toBe('INVALID_IDEMPOTENCY_KEY');
    expect(await uploadIds()).toEqual(new Set([first.id]));
  });

  it('makes a new upload once the one it named is gone', async () => {
    const agent = request(app.ctx.app);
    const headers = { 'Idempotency-Key': 'k2', ...(await bearer('alice')) };
    const first = await createUpload(agent, { size: 10, headers });
    expect((await agent.delete(first.path).set('Tus-Resumable', '1.0.0').set(headers)).status).toBe(204);
    const next = await createUpload(agent, { size: 10, headers });
    expect(next.res.status).toBe(201);
    expect(next.id).not.toBe(first.id);
    expect(await uploadIds()).toEqual(new Set([next.id]));
  });

  it('IETF draft: a creation cut mid-body and sent again gets the upload its 104 named, at its offset', async () => {
    const data = randomBytes(3 * CHUNK + 5);
    const headers = {
      'Upload-Draft-Interop-Version': '10',
      'Upload-Complete': '?1',
      'Idempotency-Key': `"${randomUUID()}"`,
      ...(await bearer('carol')),
    };
    const interim = await interruptedCreation(
      app.base,
      '/files',
      headers,
      data.subarray(0, CHUNK + 1),
      data.length,
      recordedAtLeast(app.ctx.reader, CHUNK),
    );
    const id = new URL(String(interim.headers.location)).pathname.split('/').pop() as string;
    // The client never saw the 104 (say), and sends the whole creation again.
    const again = await draftRequest(app.base, 'POST', '/files', headers, data);
    expect(again.status).toBe(201);
    expect(again.headers.location).toBe(interim.headers.location);
    const offset = Number(again.headers['upload-offset']);
    expect(offset).toBeGreaterThan(0);
    expect(again.headers['upload-complete']).toBe('?0');
    const rest = await draftRequest(
      app.base,
      'PATCH',
      new URL(String(again.headers.location)).pathname,
      {
        'Upload-Draft-Interop-Version': '10',
        'Upload-Offset': String(offset),
        'Upload-Complete': '?1',
        'Content-Type': 'application/partial-upload',
        ...(await bearer('carol')),
      },
      data.subarray(offset),
    );
    expect(rest.status).toBe(201);
    expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
    expect(await uploadIds()).toEqual(new Set([id]));
  });
});
