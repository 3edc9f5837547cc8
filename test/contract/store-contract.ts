import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { newUploadId } from '../../src/uploads/model/upload-id.js';
import { anonymous, createUploadsContext, type UploadsContext } from '../helpers/uploads.js';
import { elapse, waitFor } from '../helpers/wait.js';

/**
 * What any byte store must do under the upload store, in our words after
 * tus-node-server's shared store tests: create, write at offsets, read back,
 * declare a deferred length, remove, expire. Bytes go in exactly as a request's
 * do: through UploadStore.append, under the upload's lock, read straight from
 * the body. `env` selects the byte store (and anything it needs); each test
 * gets its own key prefix and folder.
 */
export function describeStoreContract(
  name: string,
  env: () => Record<string, string> | Promise<Record<string, string>>,
  /** The chunk grid the store is tested on (S3's parts are at least 5 MiB). */
  CHUNK = 64 * 1024,
) {
  describe(`tracked store over ${name}`, () => {
    const contexts: UploadsContext[] = [];
    afterEach(async () => {
      for (const ctx of contexts.splice(0)) await ctx.close();
    });
    const context = async (extra: Record<string, string> = {}) => {
      const ctx = await createUploadsContext({ CHUNK_SIZE_BYTES: String(CHUNK), ...(await env()), ...extra });
      contexts.push(ctx);
      return ctx;
    };
    const create = (ctx: UploadsContext, size: number | undefined, metadata: Record<string, string> = {}) =>
      ctx.uploadStore.create({ id: newUploadId(), size, metadata, caller: anonymous, partial: false });
    // As a request appends: the upload opened under its lock, the body read straight from its stream.
    const write = async (ctx: UploadsContext, id: string, offset: number, data: Buffer) => {
      const lock = ctx.locker.newLock(id);
      await lock.lock(new AbortController().signal, () => {});
      try {
        const upload = await ctx.uploadStore.open(id, anonymous, lock);
        const body = { source: Readable.from([data]), length: data.length };
        return (await ctx.uploadStore.append(upload, offset, body, lock)).end;
      } finally {
        await lock.unlock();
      }
    };
    const get = async (ctx: UploadsContext, id: string) => {
      const upload = await ctx.uploadStore.open(id, anonymous);
      return { id: upload.id, size: upload.size, offset: upload.offset, metadata: upload.record.metadata };
    };

    it('creates an upload at offset 0 with its size and metadata, and records it in the seed schema', async () => {
      const ctx = await context();
      const upload = await create(ctx, 3 * CHUNK + 1, { filename: 'a.bin' });
      const found = await get(ctx, upload.id);
      expect(found).toMatchObject({ id: upload.id, size: 3 * CHUNK + 1, offset: 0, metadata: { filename: 'a.bin' } });
      expect(await ctx.reader.readRecord(upload.id)).toMatchObject({
        totalChunks: 4,
        receivedChunks: 0,
        failedChunks: 0,
        status: 'uploading',
      });
    });

    it('writes at offsets: each write returns the new offset, which getUpload then reports', async () => {
      const ctx = await context();
      const data = randomBytes(3 * CHUNK + 1000);
      const upload = await create(ctx, data.length);
      const first = data.subarray(0, CHUNK + 10);
      expect(await write(ctx, upload.id, 0, first)).toBe(first.length);
      expect((await get(ctx, upload.id)).offset).toBe(first.length);
      expect(await ctx.reader.readRecord(upload.id)).toMatchObject({ offset: first.length, receivedChunks: 1 });
      expect(await write(ctx, upload.id, first.length, data.subarray(first.length))).toBe(data.length);
      expect((await get(ctx, upload.id)).offset).toBe(data.length);
    });

    it('completes on the last byte: the bytes read back are the ones written, and the SHA-256 says so', async () => {
      const ctx = await context();
      const data = randomBytes(2 * CHUNK + 7);
      const upload = await create(ctx, data.length);
      await write(ctx, upload.id, 0, data);
      const sha256 = createHash('sha256').update(data).digest('hex');
      expect(await ctx.reader.readRecord(upload.id)).toMatchObject({
        status: 'completed',
        receivedChunks: 3,
        totalChunks: 3,
        sha256,
      });
      expect((await buffer(ctx.bytes.read(upload.id))).equals(data)).toBe(true);
    });

    it('declares a deferred length once, and no smaller than what it holds', async () => {
      const ctx = await context();
      const upload = await create(ctx, undefined);
      expect((await get(ctx, upload.id)).size).toBeUndefined();
      await write(ctx, upload.id, 0, randomBytes(100));
      const opened = await ctx.uploadStore.open(upload.id, anonymous);
      await expect(ctx.uploadStore.declareLength(opened, 50)).rejects.toMatchObject({ code: 'LENGTH_BELOW_OFFSET' });
      await ctx.uploadStore.declareLength(opened, CHUNK + 100);
      expect((await get(ctx, upload.id)).size).toBe(CHUNK + 100);
      expect((await ctx.reader.readRecord(upload.id))?.totalChunks).toBe(2);
      await expect(ctx.uploadStore.declareLength(opened, CHUNK + 200)).rejects.toMatchObject({
        code: 'LENGTH_ALREADY_DECLARED',
      });
    });

    it('removes an upload: it is then unknown (404), and removing it again is a 404', async () => {
      const ctx = await context();
      const upload = await create(ctx, 10);
      await write(ctx, upload.id, 0, randomBytes(5));
      await ctx.uploadStore.remove(upload.id);
      await expect(get(ctx, upload.id)).rejects.toMatchObject({ status: 404 });
      expect(await ctx.bytes.bytesStored(upload.id)).toBeUndefined();
      await expect(ctx.uploadStore.remove(upload.id)).rejects.toMatchObject({
        status: 404,
      });
    });

    it('expires an unfinished upload: deleteExpired removes its bytes and keys once its time has passed', async () => {
      const ctx = await context({ UPLOAD_TTL_SECONDS: '1' });
      const upload = await create(ctx, 10);
      await write(ctx, upload.id, 0, randomBytes(5));
      expect(ctx.tusStore.getExpiration()).toBe(1000);
      await elapse(1100); // fixed: the 1 s expiry is the feature, it must pass
      expect(await ctx.tusStore.deleteExpired()).toBe(1);
      expect(await ctx.bytes.bytesStored(upload.id)).toBeUndefined();
      await expect(get(ctx, upload.id)).rejects.toMatchObject({ status: 404 });
    });

    it('stores the bytes that fit when a body runs past the upload, then refuses the rest', async () => {
      const ctx = await context();
      const data = randomBytes(CHUNK + 10);
      const upload = await create(ctx, CHUNK);
      await expect(write(ctx, upload.id, 0, data)).rejects.toMatchObject({ code: 'BODY_EXCEEDS_LENGTH' });
      expect((await get(ctx, upload.id)).offset).toBe(CHUNK);
      expect((await buffer(ctx.bytes.read(upload.id))).equals(data.subarray(0, CHUNK))).toBe(true);
      expect(await ctx.reader.readRecord(upload.id)).toMatchObject({ status: 'completed', receivedChunks: 1 });
    });

    it('ends the reading when another request asks for the lock, keeping what came', async () => {
      const ctx = await context();
      const upload = await create(ctx, 4 * CHUNK);
      const lock = ctx.locker.newLock(upload.id);
      await lock.lock(new AbortController().signal, () => {});
      const source = new PassThrough();
      const opened = await ctx.uploadStore.open(upload.id, anonymous, lock);
      // A body of no said length (chunked): every byte that came is kept, whatever the store's parts.
      const appending = ctx.uploadStore.append(opened, 0, { source }, lock);
      const first = randomBytes(CHUNK + 5);
      source.write(first);
      await waitFor(async () => ((await ctx.bytes.bytesStored(upload.id)) ?? 0) >= CHUNK, { what: 'a chunk stored' });
      const next = ctx.locker.newLock(upload.id).lock(new AbortController().signal, () => {});
      const appended = await appending;
      await lock.unlock();
      await next;
      expect(appended).toEqual({ end: first.length, superseded: true });
      expect(await ctx.bytes.bytesStored(upload.id)).toBe(first.length);
      expect(await ctx.reader.readRecord(upload.id)).toMatchObject({ offset: first.length, receivedChunks: 1 });
    });
  });
}
