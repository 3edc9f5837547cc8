import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Upload } from '@tus/utils';
import { afterEach, describe, expect, it } from 'vitest';
import { newUploadId } from '../../src/uploads/model/upload-id.js';
import { createUploadsContext, inTusRequest, type UploadsContext } from '../helpers/uploads.js';
import { elapse } from '../helpers/wait.js';

/**
 * What any byte store must do under the tracked store, in our words after
 * tus-node-server's shared store tests: create, write at offsets, read back,
 * declare a deferred length, remove, expire. `env` selects the byte store
 * (and anything it needs); each test gets its own key prefix and folder.
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
      inTusRequest({ method: 'POST' }, () =>
        ctx.store.create(new Upload({ id: newUploadId(), size, offset: 0, metadata })),
      );
    // As @tus/server writes: under the upload's lock.
    const write = async (ctx: UploadsContext, id: string, offset: number, data: Buffer) => {
      const lock = ctx.locker.newLock(id);
      await lock.lock(new AbortController().signal, () => {});
      try {
        return await inTusRequest({ method: 'PATCH' }, () => ctx.store.write(Readable.from([data]), id, offset));
      } finally {
        await lock.unlock();
      }
    };
    const get = (ctx: UploadsContext, id: string) => inTusRequest({ method: 'HEAD' }, () => ctx.store.getUpload(id));

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
      await expect(ctx.store.declareUploadLength(upload.id, 50)).rejects.toMatchObject({ code: 'LENGTH_BELOW_OFFSET' });
      await ctx.store.declareUploadLength(upload.id, CHUNK + 100);
      expect((await get(ctx, upload.id)).size).toBe(CHUNK + 100);
      expect((await ctx.reader.readRecord(upload.id))?.totalChunks).toBe(2);
      await expect(ctx.store.declareUploadLength(upload.id, CHUNK + 200)).rejects.toMatchObject({
        code: 'LENGTH_ALREADY_DECLARED',
      });
    });

    it('removes an upload: it is then unknown (404), and removing it again is a 404', async () => {
      const ctx = await context();
      const upload = await create(ctx, 10);
      await write(ctx, upload.id, 0, randomBytes(5));
      await inTusRequest({ method: 'DELETE' }, () => ctx.store.remove(upload.id));
      await expect(get(ctx, upload.id)).rejects.toMatchObject({ status: 404 });
      expect(await ctx.bytes.bytesStored(upload.id)).toBeUndefined();
      await expect(inTusRequest({ method: 'DELETE' }, () => ctx.store.remove(upload.id))).rejects.toMatchObject({
        status: 404,
      });
    });

    it('expires an unfinished upload: deleteExpired removes its bytes and keys once its time has passed', async () => {
      const ctx = await context({ UPLOAD_TTL_SECONDS: '1' });
      const upload = await create(ctx, 10);
      await write(ctx, upload.id, 0, randomBytes(5));
      expect(ctx.store.getExpiration()).toBe(1000);
      await elapse(1100); // fixed: the 1 s expiry is the feature, it must pass
      expect(await ctx.store.deleteExpired()).toBe(1);
      expect(await ctx.bytes.bytesStored(upload.id)).toBeUndefined();
      await expect(get(ctx, upload.id)).rejects.toMatchObject({ status: 404 });
    });

    it('refuses to be used outside a tus request rather than guess what the request was', async () => {
      const ctx = await context();
      await expect(ctx.store.getUpload(newUploadId())).rejects.toThrow(/outside a tus request/);
    });
  });
}
