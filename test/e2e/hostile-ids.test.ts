import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { TUS } from '../helpers/tus.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext();
});
afterEach(() => ctx.close());

const hostile = [
  '..%2Fx',
  '%2e%2e%2f',
  '%252e%252e',
  '%00',
  '%5C',
  '%7Bx%7D',
  'a'.repeat(10_000),
  'not-a-uuid',
  randomUUID().toUpperCase(),
  `${randomUUID()}/extra`,
  `extra/${randomUUID()}`,
];

describe('tus routes refuse IDs that are not well-formed', () => {
  it.each(hostile)('%s on HEAD, PATCH, DELETE and GET: 400 or 404, nothing touched', async (raw) => {
    // A file beside the upload directory that a traversal would reach.
    const outside = path.join(path.dirname(ctx.dir), `victim-${randomUUID()}`);
    writeFileSync(outside, 'keep me');
    const url = `/files/${raw}`;
    const agent = request(ctx.app);
    const responses = {
      HEAD: await agent.head(url).set(TUS),
      PATCH: await agent
        .patch(url)
        .set(TUS)
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        .send(Buffer.from('x')),
      DELETE: await agent.delete(url).set(TUS),
      GET: await agent.get(url),
    };
    for (const [method, res] of Object.entries(responses)) {
      expect([400, 404], `${method} ${raw.slice(0, 40)}`).toContain(res.status);
      expect(res.text ?? '').not.toMatch(/at .*\.(ts|js)|node_modules/);
    }
    expect(existsSync(outside)).toBe(true);
    expect(readdirSync(ctx.dir)).toEqual([]);
    expect(await ctx.allKeys()).toEqual([]);
  });

  it('answers 404 with a message for a malformed ID (tus: "the Server SHOULD return either the 404 Not Found, 410 Gone or 403 Forbidden")', async () => {
    const res = await request(ctx.app).head('/files/not-a-uuid').set(TUS);
    expect(res.status).toBe(404);
    const patch = await request(ctx.app)
      .patch('/files/not-a-uuid')
      .set(TUS)
      .set('Upload-Offset', '0')
      .set('Content-Type', 'application/offset+octet-stream')
      .send(Buffer.from('x'));
    expect(patch.status).toBe(404);
    expect(patch.text).toMatch(/upload URLs end in the upload's ID, a UUID/);
    expect(patch.headers['tus-resumable']).toBe('1.0.0');
  });

  it('answers 404 for a well-formed ID that names no upload', async () => {
    const res = await request(ctx.app).head(`/files/${randomUUID()}`).set(TUS);
    expect(res.status).toBe(404);
  });
});
