import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import { Upload } from 'tus-js-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  type AccessRequest,
  type Authorizer,
  accessDenied,
  ConfigError,
  createApp,
  createHttpServer,
  createLogger,
  createRedisClient,
  loadConfig,
  type PreCreateRequest,
  preCreateRefusal,
  type UploadEvent,
} from '../../src/index.js';
import { startServerProcess } from '../helpers/server-process.js';
import { getBytes } from '../helpers/tus.js';
import { keysOfUpload } from '../helpers/upload-keys.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A product's own Express app that embeds the upload server through the package's exports only, as docs/embedding.md shows. */
async function embeddingApp() {
  const config = loadConfig({
    UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'embedded-')),
    REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
    TUS_PATH: '/media/files',
  });
  const redis = createRedisClient(inject('redisUrl'), { commandTimeoutMs: config.redis.commandTimeoutMs });
  await redis.connect();
  const asked: AccessRequest[] = [];
  const creations: PreCreateRequest[] = [];
  const events: UploadEvent[] = [];
  const uploads = createApp({
    config,
    redis,
    logger: createLogger('silent'),
    demo: false,
    // The product's session is a cookie; its user is the upload's owner.
    authorize: (req) => {
      asked.push(req);
      const user = /(?:^|;\s*)session=([a-z]+)/.exec(req.headers.cookie ?? '')?.[1];
      if (!user) throw accessDenied(401, 'Log in to upload files');
      return { owner: user };
    },
    preCreate: (req) => {
      creations.push(req);
      if (req.upload.metadata.filetype === 'application/x-msdownload') {
        throw preCreateRefusal(415, 'Executables are not accepted');
      }
      return { metadata: { ...req.upload.metadata, project: 'apollo' } };
    },
    onEvent: [(event) => void events.push(event)],
  });
  await uploads.start();

  const product = express();
  product.get('/', (_req, res) => res.send('the product home page'));
  product.use(uploads.app);
  product.use((_req, res) => res.status(404).send('the product 404 page'));
  const server: Server = createHttpServer(product);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await uploads.stop();
    redis.disconnect();
  });
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { base, config, redis, uploads, asked, creations, events };
}

function upload(base: string, data: Buffer, headers: Record<string, string>, metadata: Record<string, string>) {
  return new Promise<string>((resolve, reject) => {
    const u = new Upload(data, {
      endpoint: `${base}/media/files`,
      headers,
      chunkSize: 64 * 1024,
      metadata,
      retryDelays: [],
      onSuccess: () => resolve(u.url as string),
      onError: reject,
    });
    u.start();
  });
}

describe("docs/embedding.md's example", () => {
  it('is docs/examples/embedding.ts, and runs as written: uploads with its session, hook and event listener', async () => {
    const page = readFileSync(new URL('../../docs/embedding.md', import.meta.url), 'utf8');
    const block = /<!-- embedding:start -->\n```ts\n([\s\S]*?)```\n<!-- embedding:end -->/.exec(page)?.[1];
    const file = new URL('../../docs/examples/embedding.ts', import.meta.url);
    // The page shows the file the type check compiles, byte for byte; what runs here is that code.
    expect(block).toBe(readFileSync(file, 'utf8'));
    const prefix = `test-${randomUUID()}:`;
    const server = await startServerProcess(
      {
        REDIS_URL: inject('redisUrl'),
        REDIS_KEY_PREFIX: prefix,
        UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'example-')),
      },
      { script: fileURLToPath(file), ready: /listening on/ },
    );
    cleanups.push(() => server.kill('SIGTERM'));
    const agent = request(server.url);
    expect((await agent.get('/')).text).toBe('your product');

    const data = randomBytes(150 * 1024);
    const url = await upload(
      server.url,
      data,
      { Cookie: 'session=alice' },
      { filename: 'a.png', filetype: 'image/png' },
    );
    const id = url.split('/').pop() as string;
    await server.waitForOutput(new RegExp(`thumbnail queued for ${id}`));
    // Its state is in the Redis REDIS_URL names, under its prefix: the example reads the configuration it shows.
    const redis = new Redis(inject('redisUrl'));
    cleanups.push(async () => void redis.disconnect());
    const record = await redis.hgetall(keysOfUpload(prefix, id).upload);
    expect(record).toMatchObject({ owner: 'alice', status: 'completed', size: String(data.length) });
    expect(JSON.parse(record.metadata as string)).toMatchObject({ filename: 'a.png', project: 'apollo' });

    const anonymous = await agent.post('/media/files').set({ 'Tus-Resumable': '1.0.0', 'Upload-Length': '3' });
    expect(anonymous.status).toBe(401);
    const exe = await agent.post('/media/files').set({
      'Tus-Resumable': '1.0.0',
      'Upload-Length': '3',
      Cookie: 'session=alice',
      'Upload-Metadata': `filetype ${Buffer.from('application/x-msdownload').toString('base64')}`,
    });
    expect(exe.status).toBe(415);
    expect(exe.text).toContain('Executables are not accepted');
  });
});

describe('embedded in an Express app of its own', () => {
  it('serves tus uploads next to the host app routes, with its authorizer, pre-create hook and event listener', async () => {
    const host = await embeddingApp();
    const agent = request(host.base);
    expect((await agent.get('/')).text).toBe('the product home page');
    expect((await agent.get('/pricing')).text).toBe('the product 404 page');

    const data = randomBytes(200 * 1024);
    const alice = { Cookie: 'session=alice' };
    const url = await upload(host.base, data, alice, { filename: 'notes.txt', filetype: 'text/plain' });
    const id = url.split('/').pop() as string;
    expect(new URL(url).pathname).toBe(`/media/files/${id}`);

    const downloaded = await getBytes(agent, new URL(url).pathname, alice);
    expect(downloaded.status).toBe(200);
    expect(Buffer.compare(downloaded.body, data)).toBe(0);
    const record = await host.redis.hgetall(keysOfUpload(host.config.redis.keyPrefix, id).upload);
    expect(record).toMatchObject({ owner: 'alice', status: 'completed' });
    expect(JSON.parse(record.metadata as string)).toMatchObject({ filename: 'notes.txt', project: 'apollo' });

    // The authorizer ran before each request with its intent; PATCHes carried the recorded owner.
    expect(host.asked[0]).toMatchObject({ intent: 'create', method: 'POST', owner: undefined });
    const patches = host.asked.filter((a) => a.method === 'PATCH');
    expect(patches.length).toBe(4);
    expect(patches.every((a) => a.intent === 'resume' && a.uploadId === id && a.owner === 'alice')).toBe(true);
    expect(host.asked.at(-1)).toMatchObject({ intent: 'read', method: 'GET', uploadId: id });
    expect(host.creations).toHaveLength(1);
    expect(host.creations[0]?.upload).toMatchObject({ id, size: data.length, owner: 'alice' });

    const mine = host.events.filter((e) => 'id' in e && e.id === id).map((e) => e.type);
    expect(mine[0]).toBe('created');
    expect(mine.at(-1)).toBe('completed');

    // Another user, and no user at all, are turned away by the same check.
    const bob = await agent.get(`/api/uploads/${id}/progress`).set('Cookie', 'session=bob');
    expect(bob.status).toBe(403);
    const nobody = await agent.head(new URL(url).pathname).set('Tus-Resumable', '1.0.0');
    expect(nobody.status).toBe(401);
    expect(nobody.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('shows the client what the in-process pre-create hook refused, and creates nothing', async () => {
    const host = await embeddingApp();
    const refused = await upload(
      host.base,
      Buffer.from('MZ'),
      { Cookie: 'session=alice' },
      {
        filename: 'setup.exe',
        filetype: 'application/x-msdownload',
      },
    ).then(
      () => undefined,
      (error: { originalResponse?: { getStatus(): number; getBody(): string } }) => error.originalResponse,
    );
    expect(refused?.getStatus()).toBe(415);
    expect(refused?.getBody()).toBe('Executables are not accepted\n');
    expect(await host.redis.keys(`${host.config.redis.keyPrefix}upload:*`)).toEqual([]);
    expect(host.events).toEqual([]);
  });

  it('refuses a concurrency limit per owner when nothing says who the owner is', async () => {
    const config = loadConfig({ OWNER_MAX_CONCURRENT_UPLOADS: '2', REDIS_KEY_PREFIX: `test-${randomUUID()}:` });
    const redis = createRedisClient(inject('redisUrl'), { commandTimeoutMs: 1000 });
    const build = (authorize: Authorizer | null) =>
      createApp({ config, redis, logger: createLogger('silent'), authorize });
    expect(() => build(null)).toThrow(ConfigError);
    expect(() => build(null)).toThrow(/OWNER_MAX_CONCURRENT_UPLOADS: uploads are counted per owner/);
    expect(() => build(() => ({ owner: 'someone' }))).not.toThrow();
    redis.disconnect();
  });
});
