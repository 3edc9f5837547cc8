import { Metadata } from '@tus/utils';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createUpload, head, TUS } from '../helpers/tus.js';

const contexts: TestContext[] = [];
const context = async (env: Record<string, string>) => {
  const ctx = await createTestContext(env);
  contexts.push(ctx);
  return ctx;
};
afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close();
});

describe('Location behind a proxy', () => {
  it('is absolute from the Host header by default, ignoring forwarded headers', async () => {
    const ctx = await context({});
    const res = await request(ctx.app)
      .post('/files')
      .set(TUS)
      .set('Upload-Length', '1')
      .set('Host', 'uploads.internal:1080')
      .set('X-Forwarded-Host', 'evil.example')
      .set('X-Forwarded-Proto', 'https');
    expect(res.headers.location).toMatch(/^http:\/\/uploads\.internal:1080\/files\/[0-9a-f-]{36}$/);
  });

  it('follows Forwarded / X-Forwarded-* when TRUST_PROXY=true', async () => {
    const ctx = await context({ TRUST_PROXY: 'true' });
    const xf = await request(ctx.app)
      .post('/files')
      .set(TUS)
      .set('Upload-Length', '1')
      .set('X-Forwarded-Host', 'uploads.example.com')
      .set('X-Forwarded-Proto', 'https');
    expect(xf.headers.location).toMatch(/^https:\/\/uploads\.example\.com\/files\/[0-9a-f-]{36}$/);
    const fwd = await request(ctx.app)
      .post('/files')
      .set(TUS)
      .set('Upload-Length', '1')
      .set('Forwarded', 'proto=https;host=cdn.example.org');
    expect(fwd.headers.location).toMatch(/^https:\/\/cdn\.example\.org\/files\/[0-9a-f-]{36}$/);
  });

  it('is relative with RELATIVE_LOCATION=true, and honours TUS_PATH', async () => {
    const ctx = await context({ RELATIVE_LOCATION: 'true', TUS_PATH: '/api/tus' });
    const res = await request(ctx.app).post('/api/tus').set(TUS).set('Upload-Length', '1');
    expect(res.status).toBe(201);
    expect(res.headers.location).toMatch(/^\/api\/tus\/[0-9a-f-]{36}$/);
    expect((await head(request(ctx.app), res.headers.location as string)).status).toBe(200);
  });
});

describe('metadata', () => {
  it('is echoed by HEAD exactly, with non-ASCII values and keys without a value', async () => {
    const ctx = await context({});
    const metadata = { filename: 'résumé 履歴書.pdf', filetype: 'application/pdf', empty: null };
    const { path } = await createUpload(request(ctx.app), { size: 5, metadata });
    const res = await head(request(ctx.app), path);
    expect(res.headers['upload-metadata']).toBe(Metadata.stringify(metadata));
    expect(Metadata.parse(res.headers['upload-metadata'])).toEqual(metadata);
  });
});
