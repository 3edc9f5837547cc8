import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BlockBlobClient } from '@azure/storage-blob';
import request, { type Agent } from 'supertest';
import type { Upload } from 'tus-js-client';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type AzureStorage, azureStorage } from '../helpers/azure-storage.js';
import { storageTraffic, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { tusUpload } from '../helpers/instances.js';
import { openPatch } from '../helpers/raw-patch.js';
import { type RecordedCall, startRecordingProxy } from '../helpers/recording-proxy.js';
import { serversPerTest } from '../helpers/servers-per-test.js';
import { createUpload, downloadWithPause, getBytes, head, patch, TUS } from '../helpers/tus.js';
import { elapse, waitFor } from '../helpers/wait.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The chunk grid of these tests: Azure takes blocks of any size, so a small one keeps them quick. */
const CHUNK = 256 * KiB;

let storage: AzureStorage;
beforeAll(async () => {
  storage = await azureStorage();
});
const openServer = serversPerTest();

/** A server on a blob prefix (and Redis keys) of its own, with 256 KiB chunks unless `env` says otherwise. */
async function azureServer(env: Record<string, string> = {}) {
  const settings = storage.env();
  const ctx = await openServer({ CHUNK_SIZE_BYTES: String(CHUNK), ...settings, ...env });
  return { ctx, agent: request(ctx.app), prefix: settings.AZURE_BLOB_PREFIX as string };
}

/** The same, talking to Azurite through a proxy that records each call it makes (see operationsOn). */
async function recordedAzureServer(env: Record<string, string> = {}) {
  const { AZURE_BLOB_ENDPOINT: endpoint, AZURE_STORAGE_ACCOUNT: account } = storage.env();
  const proxy = await startRecordingProxy(new URL(endpoint as string).origin);
  onTestFinished(() => proxy.close());
  const server = await azureServer({ AZURE_BLOB_ENDPOINT: `${proxy.url}/${account}`, ...env });
  return { ...server, calls: proxy.calls };
}

/** The Blob service operations (Azure's names) the server made on blob `name`, in order. */
function operationsOn(calls: readonly RecordedCall[], name: string): string[] {
  const path = `/${storage.env().AZURE_STORAGE_ACCOUNT}/${storage.container}/${name}`;
  return calls.filter((c) => c.path === path).map(operationOf);
}

function operationOf({ method, query, headers }: RecordedCall): string {
  const comp = query.get('comp') ?? '';
  const copies = headers['x-ms-copy-source'] !== undefined;
  if (method === 'PUT' && comp === 'block') return copies ? 'PutBlockFromURL' : 'PutBlock';
  if (method === 'PUT' && comp === 'blocklist') return 'PutBlockList';
  if (method === 'PUT' && comp === '') return copies ? 'CopyBlob' : 'PutBlob';
  return `${method} ${comp}`.trim();
}

/** The ID of the upload tus-js-client ended on (the last segment of its URL). */
const uploadIdOf = (upload: Upload) => (upload.url ?? '').split('/').pop() ?? '';

const blob = (name: string) => storage.containerClient.getBlockBlobClient(name);

/** The sizes of a blob's blocks, in order: committed (its bytes), or staged only. */
async function blockSizes(name: string, which: 'committed' | 'uncommitted' = 'committed'): Promise<number[]> {
  const list = await blob(name).getBlockList(which);
  return ((which === 'committed' ? list.committedBlocks : list.uncommittedBlocks) ?? []).map((b) => b.size);
}

/** What Redis records of the upload's bytes (the hash `upload:{<bucket>}:<id>:bytes`). */
const byteState = (ctx: TestContext, id: string) => ctx.redis.hgetall(ctx.keys.forUpload(id).bytes);

/** All that is left under the prefix of a completed upload: its one committed blob. */
const onlyTheBlob = (prefix: string, id: string) => ({ blobs: [`${prefix}${id}`], uncommitted: [] });

const offsetOf = async (agent: Agent, path: string) => Number((await head(agent, path)).headers['upload-offset']);

const tailPattern = (prefix: string, id: string) => new RegExp(`^${prefix}${id}\\.tail-[0-9a-f-]{36}$`);

/** An Upload-Checksum header of `bytes` (tus checksum extension, SHA-1). */
const sha1 = (bytes: Buffer | string) => `sha1 ${createHash('sha1').update(bytes).digest('base64')}`;

/** An upload of `size` random bytes, completed by one PATCH: its path and its bytes. */
async function completedUpload(agent: Agent, size = 5000) {
  const data = randomBytes(size);
  const { path } = await createUpload(agent, { size });
  expect((await patch(agent, path, 0, data)).status).toBe(204);
  return { path, data };
}

describe('uploads on Azure Blob Storage (Azurite): the block blob <prefix><id>', () => {
  it('tus-js-client: the completed upload is one committed blob, a block per chunk, byte-identical', async () => {
    const { ctx, prefix } = await azureServer();
    const data = randomBytes(3 * CHUNK + 1234);
    const id = uploadIdOf(await tusUpload(data, { endpoint: `${await ctx.listen()}/files` }));
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await blockSizes(`${prefix}${id}`)).toEqual([CHUNK, CHUNK, CHUNK, 1234]);
    expect(await ctx.reader.readProgress(id)).toMatchObject({
      status: 'completed',
      offset: data.length,
      totalChunks: 4,
      receivedChunks: 4,
      failedChunks: 0,
      sha256: sha256(data),
    });
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
    // Redis keeps only what a download needs: the size, and the ETag Azure gave the committed blob.
    const { etag } = await blob(`${prefix}${id}`).getProperties();
    expect(await byteState(ctx, id)).toEqual({ sealed: '1', size: String(data.length), etag });
  });

  it('tus-js-client with requests unaligned to the chunks: tails are kept as blobs, then taken up into whole blocks', async () => {
    const { ctx, prefix } = await azureServer();
    const data = randomBytes(2 * CHUNK + 777);
    const done = await tusUpload(data, { endpoint: `${await ctx.listen()}/files`, chunkSize: 100 * KiB });
    const id = uploadIdOf(done);
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await blockSizes(`${prefix}${id}`)).toEqual([CHUNK, CHUNK, 777]);
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed', receivedChunks: 3, totalChunks: 3 });
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
  });

  it('a PATCH ending inside a chunk is durable at once: its block staged, the rest in a readable tail blob, both in Redis', async () => {
    const { ctx, agent, prefix } = await azureServer();
    const data = randomBytes(2 * CHUNK);
    const { path, id } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data.subarray(0, CHUNK + 1000))).status).toBe(204);
    expect(await offsetOf(agent, path)).toBe(CHUNK + 1000);
    expect(await ctx.reader.readRecord(id)).toMatchObject({ offset: CHUNK + 1000, receivedChunks: 1 });

    const unfinished = await storage.contents(prefix);
    expect(unfinished).toEqual({
      blobs: [expect.stringMatching(tailPattern(prefix, id))],
      uncommitted: [`${prefix}${id}`],
    });
    const tail = unfinished.blobs[0] as string;
    expect(await storage.bytes(tail)).toEqual(data.subarray(CHUNK, CHUNK + 1000));
    expect(await blockSizes(`${prefix}${id}`, 'uncommitted')).toEqual([CHUNK]);
    const staged = await blob(`${prefix}${id}`).getBlockList('uncommitted');
    expect(await byteState(ctx, id)).toMatchObject({
      partCount: '1',
      'p:1': staged.uncommittedBlocks?.[0]?.name,
      held: String(CHUNK),
      tailKey: tail,
      tailLength: '1000',
      tailPart: '2',
    });

    expect((await patch(agent, path, CHUNK + 1000, data.subarray(CHUNK + 1000))).status).toBe(204);
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await blockSizes(`${prefix}${id}`)).toEqual([CHUNK, CHUNK]);
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
  });

  it('a second PATCH inside the same chunk replaces the tail blob: one tail at a time, holding every byte so far', async () => {
    const { ctx, agent, prefix } = await azureServer();
    const data = randomBytes(CHUNK);
    const { path, id } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data.subarray(0, 1000))).status).toBe(204);
    const [first] = (await storage.contents(prefix)).blobs;
    expect((await patch(agent, path, 1000, data.subarray(1000, 3000))).status).toBe(204);

    const { blobs, uncommitted } = await storage.contents(prefix);
    expect(uncommitted).toEqual([]);
    expect(blobs).toEqual([expect.stringMatching(tailPattern(prefix, id))]);
    expect(blobs[0]).not.toBe(first);
    expect(await storage.bytes(blobs[0] as string)).toEqual(data.subarray(0, 3000));
    expect(await byteState(ctx, id)).toMatchObject({ tailKey: blobs[0], tailLength: '3000', tailPart: '1' });

    expect((await patch(agent, path, 3000, data.subarray(3000))).status).toBe(204);
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
  });

  it('a PATCH of known length streams its blocks to Azure: nothing is spooled to disk, unlike a chunked one', async () => {
    const { ctx, agent } = await azureServer();
    const spoolDir = join(ctx.dir, '.spool');
    const data = randomBytes(3 * CHUNK + 99);
    const { path } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data)).status).toBe(204);
    expect(existsSync(spoolDir)).toBe(false);
    const chunked = await createUpload(agent, { size: 10 });
    const body = openPatch(await ctx.listen(), chunked.path, 0);
    await body.write(Buffer.alloc(10));
    body.end();
    expect((await body.response).status).toBe(204);
    expect(existsSync(spoolDir)).toBe(true);
  });

  it('a chunked PATCH (no Content-Length) is spooled and arrives whole, a block per chunk', async () => {
    const { ctx, agent, prefix } = await azureServer();
    const data = randomBytes(CHUNK + 4321);
    const { path, id } = await createUpload(agent, { size: data.length });
    const body = openPatch(await ctx.listen(), path, 0);
    for (let at = 0; at < data.length; at += 64 * KiB) await body.write(data.subarray(at, at + 64 * KiB));
    body.end();
    expect((await body.response).status).toBe(204);
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await blockSizes(`${prefix}${id}`)).toEqual([CHUNK, 4321]);
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
  });

  it('Upload-Checksum mismatch: 460, and nothing of that body counts (offset, record, blocks, tail)', async () => {
    const { ctx, agent, prefix } = await azureServer();
    const data = randomBytes(2 * CHUNK + 10);
    const { path, id } = await createUpload(agent, { size: data.length });
    const refused = await patch(agent, path, 0, data.subarray(0, CHUNK + 5), { 'Upload-Checksum': sha1('other') });
    expect(refused.status).toBe(460);
    expect(await offsetOf(agent, path)).toBe(0);
    expect(await ctx.reader.readRecord(id)).toMatchObject({ offset: 0, receivedChunks: 0, failedChunks: 1 });
    // No block recorded, no tail kept (a block Azure staged but Redis never named is dropped at the commit).
    const state = await byteState(ctx, id);
    expect(Object.keys(state).filter((field) => /^p:|^tail/.test(field))).toEqual([]);
    expect(Number(state.held ?? 0)).toBe(0);
    expect((await storage.contents(prefix)).blobs).toEqual([]);

    expect((await patch(agent, path, 0, data, { 'Upload-Checksum': sha1(data) })).status).toBe(204);
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await blockSizes(`${prefix}${id}`)).toEqual([CHUNK, CHUNK, 10]);
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
  });

  it('Upload-Checksum mismatch on an upload sent whole: 460, and no blob is left under its name', async () => {
    const { agent, prefix } = await azureServer();
    const data = randomBytes(64 * KiB);
    const { path, id } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data, { 'Upload-Checksum': sha1('other') })).status).toBe(460);
    expect(await offsetOf(agent, path)).toBe(0);
    expect(await storage.contents(prefix)).toEqual({ blobs: [], uncommitted: [] });
    expect((await patch(agent, path, 0, data)).status).toBe(204);
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
  });

  it('an upload of several blocks in one aligned request costs a Put Block per block and one Put Block List, nothing else', async () => {
    const { agent, prefix, calls } = await recordedAzureServer();
    const data = randomBytes(3 * CHUNK);
    const { id, path } = await createUpload(agent, { size: data.length });
    const before = calls.length;
    expect((await patch(agent, path, 0, data)).status).toBe(204);
    // Every call the server made to Azure for it, container calls (a listing) included.
    expect(calls.slice(before).map(operationOf)).toEqual(['PutBlock', 'PutBlock', 'PutBlock', 'PutBlockList']);
    expect(operationsOn(calls, `${prefix}${id}`)).toHaveLength(4);
  });

  it('an upload sent whole in one request is one Put Blob: no block ever staged, each byte sent once, none read back', async () => {
    const { ctx, agent, prefix, calls } = await recordedAzureServer();
    const data = randomBytes(64 * KiB);
    const { id, path } = await createUpload(agent, { size: data.length });
    // Nothing in the container for it until bytes come.
    expect(await storage.contents(prefix)).toEqual({ blobs: [], uncommitted: [] });
    expect((await patch(agent, path, 0, data)).status).toBe(204);
    expect(operationsOn(calls, `${prefix}${id}`)).toEqual(['PutBlob']);
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', sha256: sha256(data) });
    expect(await storageTraffic(ctx)).toEqual({ sent: data.length, read: 0 });
  });

  it('completes an upload smaller than a chunk sent in two requests: its tail and the rest become one block', async () => {
    const { ctx, agent, prefix } = await azureServer();
    const data = randomBytes(100 * KiB);
    const { id, path } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data.subarray(0, 40 * KiB))).status).toBe(204);
    expect((await patch(agent, path, 40 * KiB, data.subarray(40 * KiB))).status).toBe(204);
    expect(await blockSizes(`${prefix}${id}`)).toEqual([data.length]);
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', sha256: sha256(data) });
  });

  it('completes a deferred-length upload declared at what its tail holds: the tail becomes the last block by Put Block From URL', async () => {
    const { ctx, agent, prefix, calls } = await recordedAzureServer();
    const data = randomBytes(30 * KiB);
    const { id, path } = await createUpload(agent, {});
    expect((await patch(agent, path, 0, data)).status).toBe(204);
    expect((await storage.contents(prefix)).blobs).toEqual([expect.stringMatching(tailPattern(prefix, id))]);
    const end = await patch(agent, path, data.length, Buffer.alloc(0), { 'Upload-Length': String(data.length) });
    expect(end.status).toBe(204);
    expect(operationsOn(calls, `${prefix}${id}`)).toEqual(['PutBlockFromURL', 'PutBlockList']);
    expect(await blockSizes(`${prefix}${id}`)).toEqual([data.length]);
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', size: data.length });
    // The tail was copied inside Azure: the server sent its bytes once, when they came.
    expect((await storageTraffic(ctx)).sent).toBe(data.length);
  });

  it('has no 5 MiB minimum: a client may ask for 64 KiB chunks, each a block; smaller is refused, naming the bound', async () => {
    const { ctx, agent, prefix } = await azureServer();
    const data = randomBytes(200 * KiB);
    const { id, path } = await createUpload(agent, { size: data.length, metadata: { chunkSize: String(64 * KiB) } });
    expect((await patch(agent, path, 0, data)).status).toBe(204);
    expect(await blockSizes(`${prefix}${id}`)).toEqual([64 * KiB, 64 * KiB, 64 * KiB, 8 * KiB]);
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed', totalChunks: 4, receivedChunks: 4 });

    const refused = await createUpload(agent, { size: 10, metadata: { chunkSize: String(64 * KiB - 1) } });
    expect(refused.res.status).toBe(400);
    expect(refused.res.text).toMatch(/chunkSize must be a whole number of bytes between 65536 and/);
  });

  it("announces Azure's grid (at most 50,000 blocks) and refuses an upload that would need more blocks: 413", async () => {
    const { agent } = await azureServer({ CHUNK_SIZE_BYTES: String(64 * KiB) });
    const largest = 64 * KiB * 50_000;
    const limits = await agent.get('/api/limits');
    expect(limits.body).toMatchObject({ chunkSizeBytes: 64 * KiB, maxChunks: 50_000, maxUploadBytes: largest });
    expect((await createUpload(agent, { size: largest })).res.status).toBe(201);
    const refused = (await createUpload(agent, { size: largest + 1 })).res;
    expect(refused.status).toBe(413);
    expect(refused.headers['x-error-code']).toBe('UPLOAD_TOO_LARGE');
  });

  it('an empty upload is an empty committed blob, complete at its creation', async () => {
    const { ctx, agent, prefix } = await azureServer();
    const { id, path, res } = await createUpload(agent, { size: 0 });
    expect(res.status).toBe(201);
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
    expect((await blob(`${prefix}${id}`).getProperties()).contentLength).toBe(0);
    expect(await ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', size: 0, sha256: sha256('') });
    const got = await getBytes(agent, path);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(Buffer.alloc(0));
  });

  it('a PATCH cut off inside a block keeps the blocks before it, nothing of that block; the client resumes there', async () => {
    const { ctx, agent, prefix } = await azureServer();
    const data = randomBytes(3 * CHUNK);
    const { id, path } = await createUpload(agent, { size: data.length });
    const cut = openPatch(await ctx.listen(), path, 0, data.length);
    await cut.write(data.subarray(0, CHUNK + 1000));
    await waitFor(async () => (await ctx.reader.readRecord(id))?.receivedChunks === 1, { what: 'block 1 recorded' });
    cut.reset();
    await waitFor(async () => (await ctx.reader.readRecord(id))?.failedChunks === 1, { what: 'the cut to count' });
    // Azure takes a block whole or not at all: the durable offset is the end of block 1.
    expect(await offsetOf(agent, path)).toBe(CHUNK);
    expect(await storage.contents(prefix)).toEqual({ blobs: [], uncommitted: [`${prefix}${id}`] });
    expect((await patch(agent, path, CHUNK, data.subarray(CHUNK))).status).toBe(204);
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await blockSizes(`${prefix}${id}`)).toEqual([CHUNK, CHUNK, CHUNK]);
  });
});

describe('downloads from Azure', () => {
  it('GET streams the blob: the whole file with its name, one range across a block boundary, a suffix range', async () => {
    const { ctx, agent } = await azureServer();
    const data = randomBytes(CHUNK + 99);
    const done = await tusUpload(data, { endpoint: `${await ctx.listen()}/files`, metadata: { filename: 'a.bin' } });
    const path = new URL(done.url as string).pathname;
    const whole = await getBytes(agent, path);
    expect(whole.status).toBe(200);
    expect(sha256(whole.body as Buffer)).toBe(sha256(data));
    expect(whole.headers['content-disposition']).toContain('a.bin');
    expect(whole.headers['accept-ranges']).toBe('bytes');

    const across = await getBytes(agent, path, { Range: `bytes=${CHUNK - 10}-${CHUNK + 9}` });
    expect(across.status).toBe(206);
    expect(across.headers['content-range']).toBe(`bytes ${CHUNK - 10}-${CHUNK + 9}/${data.length}`);
    expect(across.body).toEqual(data.subarray(CHUNK - 10, CHUNK + 10));

    const suffix = await getBytes(agent, path, { Range: 'bytes=-50' });
    expect(suffix.status).toBe(206);
    expect(suffix.body).toEqual(data.subarray(data.length - 50));
  });

  it('GET honours conditions, before the range: If-None-Match 304, If-Match mismatch 412, past the end 416', async () => {
    const { agent } = await azureServer();
    const { path, data } = await completedUpload(agent);
    const { etag, 'last-modified': lastModified } = (await getBytes(agent, path)).headers as {
      etag: string;
      'last-modified': string;
    };
    expect(etag).toBeTruthy();

    expect((await getBytes(agent, path, { 'If-None-Match': etag })).status).toBe(304);
    expect((await getBytes(agent, path, { 'If-Modified-Since': lastModified })).status).toBe(304);
    expect((await getBytes(agent, path, { 'If-Match': '"something-else"' })).status).toBe(412);
    const matching = await getBytes(agent, path, { 'If-Match': etag });
    expect(matching.status).toBe(200);
    expect(matching.body).toEqual(data);

    const past = await getBytes(agent, path, { Range: `bytes=${data.length + 10}-` });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${data.length}`);
    // A condition that fails wins over a range that cannot be served (RFC 9110 §13.2.2).
    expect((await getBytes(agent, path, { Range: `bytes=${data.length}-`, 'If-Match': '"x"' })).status).toBe(412);
  });

  it('GET with several ranges answers the whole file, 200, as on disk (no boundary-less multipart)', async () => {
    const { agent } = await azureServer();
    const { path, data } = await completedUpload(agent);
    for (const range of ['bytes=0-9,20-29', `bytes=${Array(50).fill('0-999').join(',')}`]) {
      const res = await getBytes(agent, path, { Range: range });
      expect(res.status, range).toBe(200);
      expect(res.headers['content-type']).not.toMatch(/multipart/);
      expect(res.body, range).toEqual(data);
    }
  });

  it("the upload.completed webhook's storagePath is the blob's URL: a worker with the account key reads the upload there", async () => {
    const hook = await startReceiver();
    onTestFinished(async () => {
      await hook.close();
    });
    const { ctx, prefix } = await azureServer({ WEBHOOK_URLS: hook.url });
    const data = randomBytes(CHUNK + 1);
    const id = uploadIdOf(await tusUpload(data, { endpoint: `${await ctx.listen()}/files` }));
    await hook.waitFor(() => hook.of('upload.completed', id).length === 1);
    const storagePath = hook.of('upload.completed', id)[0]?.body.upload.storagePath as string;
    expect(storagePath).toBe(`${storage.env().AZURE_BLOB_ENDPOINT}/${storage.container}/${prefix}${id}`);
    const worker = new BlockBlobClient(storagePath, storage.containerClient.credential);
    expect(sha256(await worker.downloadToBuffer())).toBe(sha256(data));
  });
});

describe('downloads from Azure: conditional and range requests answered as RFC 9110 (and the disk store) answer them', () => {
  it('a range whose last byte comes before its first is unsatisfiable: 416 as on disk, never 500', async () => {
    const { agent } = await azureServer();
    const { path, data } = await completedUpload(agent);
    const res = await getBytes(agent, path, { Range: 'bytes=10-5' });
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe(`bytes */${data.length}`);
  });

  it('If-None-Match: * on a completed upload is 304 as on disk, never 500', async () => {
    const { agent } = await azureServer();
    const { path } = await completedUpload(agent);
    expect((await getBytes(agent, path, { 'If-None-Match': '*' })).status).toBe(304);
  });

  it('a 304 carries the ETag and Last-Modified the 200 carries (RFC 9110 §15.4.5)', async () => {
    const { agent } = await azureServer();
    const { path } = await completedUpload(agent);
    const { etag, 'last-modified': lastModified } = (await getBytes(agent, path)).headers;
    const notModified = await getBytes(agent, path, { 'If-None-Match': etag as string });
    expect(notModified.status).toBe(304);
    expect(notModified.headers).toMatchObject({ etag, 'last-modified': lastModified });
  });

  it('If-Match and If-None-Match take a list of ETags: a member that matches counts (weakly for If-None-Match)', async () => {
    const { agent } = await azureServer();
    const { path, data } = await completedUpload(agent);
    const etag = (await getBytes(agent, path)).headers.etag as string;
    const matching = await getBytes(agent, path, { 'If-Match': `"other", ${etag}` });
    expect(matching.status).toBe(200);
    expect(matching.body).toEqual(data);
    expect((await getBytes(agent, path, { 'If-None-Match': `"other", ${etag}` })).status).toBe(304);
    expect((await getBytes(agent, path, { 'If-None-Match': `W/${etag}` })).status).toBe(304);
  });

  it('an If-Modified-Since that is not a date is ignored: 200 with the bytes, as on disk', async () => {
    const { agent } = await azureServer();
    const { path, data } = await completedUpload(agent);
    const res = await getBytes(agent, path, { 'If-Modified-Since': 'not a date' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(data);
  });

  it('If-Range naming another version ignores the range: the whole file, 200, as on disk', async () => {
    const { agent } = await azureServer();
    const { path, data } = await completedUpload(agent);
    const etag = (await getBytes(agent, path)).headers.etag as string;
    const same = await getBytes(agent, path, { Range: 'bytes=0-9', 'If-Range': etag });
    expect(same.status).toBe(206);
    expect(same.body).toEqual(data.subarray(0, 10));
    const other = await getBytes(agent, path, { Range: 'bytes=0-9', 'If-Range': '"another-version"' });
    expect(other.status).toBe(200);
    expect(other.body).toEqual(data);
    // Past the end, for another version: the range is ignored before it could be unsatisfiable.
    const beyond = await getBytes(agent, path, { Range: `bytes=${data.length}-`, 'If-Range': '"another-version"' });
    expect(beyond.status).toBe(200);
    expect(beyond.body).toEqual(data);
    expect((await getBytes(agent, path, { Range: `bytes=${data.length}-`, 'If-Range': etag })).status).toBe(416);
  });

  it('a reader that pauses longer than AZURE_REQUEST_TIMEOUT_MS still gets the whole file: only Azure is timed', async () => {
    const { ctx, agent } = await azureServer({ AZURE_REQUEST_TIMEOUT_MS: '1000', CHUNK_SIZE_BYTES: String(8 * MiB) });
    // More than the socket and stream buffers between Azure and the reader hold, so the pause reaches Azure's side.
    const data = randomBytes(32 * MiB);
    const { path } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data)).status).toBe(204);
    expect(sha256(await downloadWithPause(`${await ctx.listen()}${path}`, 2500))).toBe(sha256(data));
  });

  it('a container gone is Azure unavailable (503), not an upload lost: its record stays', async () => {
    const own = await azureStorage();
    const ctx = await openServer({ CHUNK_SIZE_BYTES: String(CHUNK), ...own.env() });
    const { path, id } = await createUpload(request(ctx.app), { size: 100 });
    expect((await patch(request(ctx.app), path, 0, randomBytes(100))).status).toBe(204);
    await own.containerClient.delete();
    const res = await getBytes(request(ctx.app), path);
    expect(res.status).toBe(503);
    expect(res.headers['x-error-code']).toBe('STORAGE_UNAVAILABLE');
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed' });
  });
});

describe('nothing left behind in the container', () => {
  it('DELETE mid-upload leaves nothing under the prefix: no blob, no staged blocks, no tail, no Redis state', async () => {
    const { ctx, agent, prefix } = await azureServer();
    const { path, id } = await createUpload(agent, { size: 2 * CHUNK });
    expect((await patch(agent, path, 0, randomBytes(CHUNK + 10))).status).toBe(204);
    expect(await storage.contents(prefix)).toEqual({
      blobs: [expect.stringMatching(tailPattern(prefix, id))],
      uncommitted: [`${prefix}${id}`],
    });
    expect((await agent.delete(path).set(TUS)).status).toBe(204);
    expect(await storage.contents(prefix)).toEqual({ blobs: [], uncommitted: [] });
    expect(await byteState(ctx, id)).toEqual({});
    expect((await head(agent, path)).status).toBe(404);
  });

  it('DELETE of a completed upload removes its blob', async () => {
    const { agent, prefix } = await azureServer();
    const data = randomBytes(CHUNK + 10);
    const { path } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data)).status).toBe(204);
    expect((await storage.contents(prefix)).blobs).toHaveLength(1);
    expect((await agent.delete(path).set(TUS)).status).toBe(204);
    expect(await storage.contents(prefix)).toEqual({ blobs: [], uncommitted: [] });
    expect((await getBytes(agent, path)).status).toBe(404);
  });

  it('expiry leaves nothing under the prefix, staged blocks and tail included', async () => {
    const { ctx, agent, prefix } = await azureServer({ UPLOAD_TTL_SECONDS: '1' });
    const { path } = await createUpload(agent, { size: 2 * CHUNK });
    expect((await patch(agent, path, 0, randomBytes(CHUNK + 10))).status).toBe(204);
    expect((await storage.contents(prefix)).uncommitted).toHaveLength(1);
    await elapse(1100); // fixed: the 1 s expiry must pass
    expect((await ctx.sweeper.sweep()).expired).toBe(1);
    expect(await storage.contents(prefix)).toEqual({ blobs: [], uncommitted: [] });
  });

  it('a completed upload past its retention is swept with its blob', async () => {
    const { ctx, agent, prefix } = await azureServer({ COMPLETED_RETENTION_SECONDS: '1' });
    const data = randomBytes(CHUNK + 10);
    const { path } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data)).status).toBe(204);
    expect((await storage.contents(prefix)).blobs).toHaveLength(1);
    await elapse(1100); // fixed: the 1 s retention must pass
    expect((await ctx.sweeper.sweep()).expired).toBe(1);
    expect(await storage.contents(prefix)).toEqual({ blobs: [], uncommitted: [] });
  });

  it('the sweeper removes blobs and staged-only blobs no record names (a crash between steps), and spares live uploads', async () => {
    const { ctx, agent, prefix } = await azureServer();
    const data = randomBytes(2 * CHUNK);
    const { id: kept, path } = await createUpload(agent, { size: data.length });
    expect((await patch(agent, path, 0, data.subarray(0, CHUNK))).status).toBe(204);
    // Left by a crash: blocks staged for an upload never recorded, a tail and a whole blob whose records are gone.
    const blockId = randomBytes(16).toString('base64');
    await blob(`${prefix}${randomUUID()}`).stageBlock(blockId, 'staged only', 11);
    await blob(`${prefix}${randomUUID()}.tail-${randomUUID()}`).upload('left behind', 11);
    await blob(`${prefix}${randomUUID()}`).upload('a whole one', 11);
    // Not the server's: another prefix in the same container, and a name under this prefix it never writes.
    const elsewhere = `other-${randomUUID().slice(0, 8)}/${randomUUID()}`;
    await blob(elsewhere).upload('not ours', 8);
    const photo = `${prefix}${randomUUID()}.jpg`;
    await blob(photo).upload('a photo', 7);

    // As if the grace period (a minute: a creation may be under way) had passed.
    expect((await ctx.sweeper.sweep(Date.now() + 120_000)).orphanFiles).toBe(3);
    expect(await storage.contents(prefix)).toEqual({ blobs: [photo], uncommitted: [`${prefix}${kept}`] });
    expect((await storage.contents(elsewhere)).blobs).toEqual([elsewhere]);
    // The live upload's staged block is intact: it completes.
    expect((await patch(agent, path, CHUNK, data.subarray(CHUNK))).status).toBe(204);
    expect(sha256(await storage.bytes(`${prefix}${kept}`))).toBe(sha256(data));
  });
});

describe('concatenation inside Azure', () => {
  it('parallelUploads: the final blob is assembled by Put Block From URL; none of its bytes pass through the server', async () => {
    const { ctx, prefix, calls } = await recordedAzureServer({ UPLOAD_DIGEST: 'none' });
    const data = randomBytes(4 * CHUNK);
    const done = await tusUpload(data, { endpoint: `${await ctx.listen()}/files`, parallelUploads: 2 });
    const id = uploadIdOf(done);
    // The PATCHes sent each byte once; the assembly sent none and read none.
    expect(await storageTraffic(ctx)).toEqual({ sent: data.length, read: 0 });
    expect(operationsOn(calls, `${prefix}${id}`)).toEqual(['PutBlockFromURL', 'PutBlockFromURL', 'PutBlockList']);
    expect(await blockSizes(`${prefix}${id}`)).toEqual([2 * CHUNK, 2 * CHUNK]);
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed', offset: data.length });
    // The partials are gone (REMOVE_PARTIALS_AFTER_CONCAT): only the final blob is left.
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
  });

  it('parallelUploads of parts smaller than a chunk: no bridge as on S3; each byte sent once, read once for the SHA-256', async () => {
    const { ctx, prefix } = await azureServer();
    const data = randomBytes(3 * 100 * KiB);
    const done = await tusUpload(data, { endpoint: `${await ctx.listen()}/files`, parallelUploads: 3 });
    const id = uploadIdOf(done);
    expect(await blockSizes(`${prefix}${id}`)).toEqual([100 * KiB, 100 * KiB, 100 * KiB]);
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed', sha256: sha256(data) });
    expect(await storageTraffic(ctx)).toEqual({ sent: data.length, read: data.length });
    expect(await storage.contents(prefix)).toEqual(onlyTheBlob(prefix, id));
  });
});
