import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { storageTraffic } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { tusUpload } from '../helpers/instances.js';
import { openPatch } from '../helpers/raw-patch.js';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';
import { serversPerTest } from '../helpers/servers-per-test.js';
import { createUpload, getBytes, head, patch, TUS } from '../helpers/tus.js';
import { elapse } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

let storage: S3Storage;
beforeAll(async () => {
  storage = await s3Storage();
});
const openServer = serversPerTest();

async function context(env: Record<string, string> = {}) {
  const settings = storage.env();
  const ctx = await openServer({ ...settings, ...env });
  return { ctx, prefix: settings.S3_KEY_PREFIX as string };
}

async function objectBytes(key: string): Promise<Buffer> {
  const reply = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }));
  return Buffer.from(await (reply.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

describe('uploads on S3 (OpenStack Swift s3api)', () => {
  it('tus-js-client: the completed upload is one object <prefix><id>, byte-identical, counted in parts', async () => {
    const { ctx, prefix } = await context();
    const base = await ctx.listen();
    const data = randomBytes(3 * PART + 1234);
    const done = await tusUpload(data, { endpoint: `${base}/files`, metadata: { filename: 'video.mp4' } });
    const id = (done.url as string).split('/').pop() as string;
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readProgress(id)).toMatchObject({
      status: 'completed',
      offset: data.length,
      totalChunks: 4,
      receivedChunks: 4,
      failedChunks: 0,
      sha256: sha256(data),
    });
    // Nothing but the object is left: no multipart upload, no tail.
    expect(await storage.contents(prefix)).toEqual({ objects: [`${prefix}${id}`], uploads: [] });
  });

  it('tus-js-client with 3 MiB chunks (unaligned to the 5 MiB parts): tails are kept in S3, then taken up', async () => {
    const { ctx, prefix } = await context();
    const base = await ctx.listen();
    const data = randomBytes(2 * PART + 777);
    const done = await tusUpload(data, { endpoint: `${base}/files`, chunkSize: 3 * MiB });
    const id = (done.url as string).split('/').pop() as string;
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed', receivedChunks: 3, totalChunks: 3 });
    expect(await storage.contents(prefix)).toEqual({ objects: [`${prefix}${id}`], uploads: [] });
  });

  it('a PATCH that ends inside a part is durable at once: HEAD reports it, the tail object holds it', async () => {
    const { ctx, prefix } = await context();
    const agent = request(ctx.app);
    const data = randomBytes(2 * PART);
    const { path, id } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data.subarray(0, PART + 1000))).status).toBe(204);
    expect(Number((await head(agent, path)).headers['upload-offset'])).toBe(PART + 1000);
    expect(await ctx.reader.readRecord(id)).toMatchObject({ offset: PART + 1000, receivedChunks: 1 });
    const inBucket = await storage.contents(prefix);
    expect(inBucket.uploads).toEqual([`${prefix}${id}`]);
    expect(inBucket.objects).toEqual([expect.stringMatching(new RegExp(`^${prefix}${id}\\.tail-`))]);
    expect(await objectBytes(inBucket.objects[0] as string)).toEqual(data.subarray(PART, PART + 1000));
    expect((await patch(agent, path, PART + 1000, data.subarray(PART + 1000))).status).toBe(204);
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await storage.contents(prefix)).toEqual({ objects: [`${prefix}${id}`], uploads: [] });
  });

  it('a chunked PATCH (no Content-Length) is spooled a part at a time and arrives whole', async () => {
    const { ctx, prefix } = await context();
    const base = await ctx.listen();
    const data = randomBytes(PART + 4321);
    const { path, id } = await createUpload(request(ctx.app), { size: data.length });
    const body = openPatch(base, path, 0);
    for (let at = 0; at < data.length; at += 256 * 1024) await body.write(data.subarray(at, at + 256 * 1024));
    body.end();
    expect((await body.response).status).toBe(204);
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
  });

  it('Upload-Checksum mismatch: 460, and nothing of that body counts (offset, parts, record unchanged)', async () => {
    const { ctx, prefix } = await context();
    const agent = request(ctx.app);
    const data = randomBytes(2 * PART + 10);
    const { path, id } = await createUpload(agent, { size: data.length });
    const wrong = createHash('sha1').update('something else').digest('base64');
    const refused = await patch(agent, path, 0, data.subarray(0, PART + 5), { 'Upload-Checksum': `sha1 ${wrong}` });
    expect(refused.status).toBe(460);
    expect(Number((await head(agent, path)).headers['upload-offset'])).toBe(0);
    expect(await ctx.reader.readRecord(id)).toMatchObject({ offset: 0, receivedChunks: 0, failedChunks: 1 });
    expect((await storage.contents(prefix)).objects).toEqual([]);
    const right = createHash('sha1').update(data).digest('base64');
    expect((await patch(agent, path, 0, data, { 'Upload-Checksum': `sha1 ${right}` })).status).toBe(204);
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
  });

  it('GET streams the object with Range and conditional requests', async () => {
    const { ctx } = await context();
    const base = await ctx.listen();
    const data = randomBytes(PART + 99);
    const done = await tusUpload(data, { endpoint: `${base}/files`, metadata: { filename: 'a.bin' } });
    const path = new URL(done.url as string).pathname;
    const whole = await getBytes(request(ctx.app), path);
    expect(whole.status).toBe(200);
    expect(sha256(whole.body as Buffer)).toBe(sha256(data));
    expect(whole.headers['content-disposition']).toContain('a.bin');
    const part = await getBytes(request(ctx.app), path, { Range: 'bytes=5242870-5242889' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 5242870-5242889/${data.length}`);
    expect(part.body).toEqual(data.subarray(5242870, 5242890));
    const again = await request(ctx.app)
      .get(path)
      .set('If-None-Match', whole.headers.etag as string);
    expect(again.status).toBe(304);
    expect(
      (
        await request(ctx.app)
          .get(path)
          .set('Range', `bytes=${data.length + 10}-`)
      ).status,
    ).toBe(416);
  });

  it('DELETE leaves nothing in the bucket, mid-upload with a tail too', async () => {
    const { ctx, prefix } = await context();
    const agent = request(ctx.app);
    const { path } = await createUpload(agent, { size: 2 * PART });
    await patch(agent, path, 0, randomBytes(PART + 10));
    expect((await storage.contents(prefix)).objects).toHaveLength(1);
    expect((await agent.delete(path).set(TUS)).status).toBe(204);
    expect(await storage.contents(prefix)).toEqual({ objects: [], uploads: [] });
    expect((await head(agent, path)).status).toBe(404);
  });

  it('expiry leaves nothing in the bucket', async () => {
    const { ctx, prefix } = await context({ UPLOAD_TTL_SECONDS: '1' });
    const agent = request(ctx.app);
    const { path } = await createUpload(agent, { size: 2 * PART });
    await patch(agent, path, 0, randomBytes(PART + 10));
    await elapse(1100); // fixed: the 1 s expiry must pass
    expect((await ctx.sweeper.sweep()).expired).toBe(1);
    expect(await storage.contents(prefix)).toEqual({ objects: [], uploads: [] });
  });

  it('the sweeper removes multipart uploads and objects that no record owns (a crash between steps)', async () => {
    const { ctx, prefix } = await context();
    const agent = request(ctx.app);
    const { id: kept, path: keptPath } = await createUpload(agent, { size: 2 * PART });
    // Its first part starts its multipart upload (none exists before: an upload sent whole needs none).
    expect((await patch(agent, keptPath, 0, randomBytes(PART))).status).toBe(204);
    const orphan = randomUUID();
    await storage.client.send(new CreateMultipartUploadCommand({ Bucket: storage.bucket, Key: `${prefix}${orphan}` }));
    await storage.client.send(
      new PutObjectCommand({ Bucket: storage.bucket, Key: `${prefix}${randomUUID()}.tail-x`, Body: 'left behind' }),
    );
    // As if the grace period (a minute: a creation may be under way) had passed.
    const report = await ctx.sweeper.sweep(Date.now() + 120_000);
    expect(report.orphanFiles).toBe(2);
    expect(await storage.contents(prefix)).toEqual({ objects: [], uploads: [`${prefix}${kept}`] });
  });

  it('stores an upload sent whole in one request as one PutObject: no multipart upload, before or after', async () => {
    const { ctx, prefix } = await context();
    const agent = request(ctx.app);
    const data = randomBytes(64 * 1024);
    const { id, path } = await createUpload(agent, { size: data.length });
    // Nothing in the bucket for it until bytes come.
    expect(await storage.contents(prefix)).toEqual({ objects: [], uploads: [] });
    const res = await patch(agent, path, 0, data);
    expect(res.status).toBe(204);
    expect(await storage.contents(prefix)).toEqual({ objects: [`${prefix}${id}`], uploads: [] });
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', sha256: sha256(data) });
    // Sent to S3 once, read back never (the digest is of the bytes as they passed).
    expect(await storageTraffic(ctx)).toEqual({ sent: data.length, read: 0 });
  });

  it('completes an upload smaller than a part sent in two requests: its tail and the rest go in as one part', async () => {
    const { ctx, prefix } = await context();
    const agent = request(ctx.app);
    const data = randomBytes(100 * 1024);
    const { id, path } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data.subarray(0, 40 * 1024))).status).toBe(204);
    expect((await patch(agent, path, 40 * 1024, data.subarray(40 * 1024))).status).toBe(204);
    expect(await storage.contents(prefix)).toEqual({ objects: [`${prefix}${id}`], uploads: [] });
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', sha256: sha256(data) });
  });

  it('completes a deferred-length upload whose length is declared at what its tail holds by copying the tail into place', async () => {
    const { ctx, prefix } = await context();
    const agent = request(ctx.app);
    const data = randomBytes(30 * 1024);
    const { id, path } = await createUpload(agent, {});
    expect((await patch(agent, path, 0, data)).status).toBe(204);
    const end = await patch(agent, path, data.length, Buffer.alloc(0), { 'Upload-Length': String(data.length) });
    expect(end.status).toBe(204);
    expect(await storage.contents(prefix)).toEqual({ objects: [`${prefix}${id}`], uploads: [] });
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', size: data.length });
  });

  it('refuses chunk sizes below S3s 5 MiB part, naming the bound', async () => {
    const { ctx } = await context();
    const res = await createUpload(request(ctx.app), { size: 10, metadata: { chunkSize: String(MiB) } });
    expect(res.res.status).toBe(400);
    expect(res.res.text).toMatch(/chunkSize must be a whole number of bytes between 5242880 and/);
  });

  it('parallelUploads: the final object is assembled inside S3; its bytes do not pass through the server', async () => {
    const { ctx, prefix } = await context({ UPLOAD_DIGEST: 'none' });
    const base = await ctx.listen();
    const data = randomBytes(4 * PART);
    const done = await tusUpload(data, { endpoint: `${base}/files`, parallelUploads: 2 });
    const id = (done.url as string).split('/').pop() as string;
    const before = await storageTraffic(ctx);
    // The PATCHes sent each byte once; the copy sent none and read none.
    expect(before).toEqual({ sent: data.length, read: 0 });
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed', offset: data.length });
    // The partials are gone (REMOVE_PARTIALS_AFTER_CONCAT), and so is every multipart upload.
    expect(await storage.contents(prefix)).toEqual({ objects: [`${prefix}${id}`], uploads: [] });
  });

  it('parallelUploads of small parts: a part under 5 MiB is bridged, sent by the server, and the SHA-256 read once', async () => {
    const { ctx, prefix } = await context();
    const base = await ctx.listen();
    const data = randomBytes(3 * MiB);
    const done = await tusUpload(data, { endpoint: `${base}/files`, parallelUploads: 3 });
    const id = (done.url as string).split('/').pop() as string;
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed', sha256: sha256(data) });
    const traffic = await storageTraffic(ctx);
    // Each byte sent once by the PATCHes, once more in the bridge part; read back for the bridge and the digest.
    expect(traffic.sent).toBe(2 * data.length);
    expect(traffic.read).toBe(2 * data.length);
  });
});

describe('uploads on S3 when Redis loses a reply', () => {
  it('a multipart upload whose recording timed out (Redis applied it) is kept: the client resumes to a byte-identical object', async () => {
    const { ctx, prefix } = await context();
    const agent = request(ctx.app);
    type States = { startMultipart(id: string, uploadId: string): Promise<boolean> };
    // The S3 byte store behind the DeferredS3Store that loads it.
    const states = (ctx.bytes as unknown as { store: { deps: { states: States } } }).store.deps.states;
    const original = states.startMultipart.bind(states);
    let armed = true;
    states.startMultipart = async (id, uploadId) => {
      const recorded = await original(id, uploadId);
      if (!armed) return recorded;
      armed = false;
      // What ioredis says of a command whose reply came after REDIS_COMMAND_TIMEOUT_MS: Redis did apply it.
      throw new Error('Command timed out');
    };
    const data = randomBytes(2 * PART + MiB);
    const { path: url, id } = await createUpload(agent, { size: data.length });
    const first = await patch(agent, url, 0, data);
    expect(first.status).toBe(503);
    const offset = Number((await head(agent, url)).headers['upload-offset']);
    expect(offset).toBe(0);
    expect((await patch(agent, url, offset, data)).status).toBe(204);
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed', sha256: sha256(data) });
    expect(sha256(await objectBytes(`${prefix}${id}`))).toBe(sha256(data));
  });
});
