import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Upload, type UploadOptions } from 'tus-js-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';

function upload(data: Buffer, options: UploadOptions): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const u: Upload = new Upload(data, {
      ...options,
      onSuccess: () => resolve(u),
      onError: reject,
    });
    u.start();
  });
}

let ctx: TestContext;
let base: string;
beforeEach(async () => {
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(64 * 1024) });
  base = await ctx.listen();
});
afterEach(() => ctx.close());

describe('tus-js-client', () => {
  it('uploads a multi-chunk file that arrives byte-identical, with its SHA-256 recorded', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const done = await upload(data, {
      endpoint: `${base}/files`,
      chunkSize: 512 * 1024,
      metadata: { filename: 'photo.jpg', filetype: 'image/jpeg' },
    });
    const id = (done.url ?? '').split('/').pop() as string;
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    const progress = await ctx.reader.readProgress(id);
    expect(progress).toMatchObject({
      status: 'completed',
      size: data.length,
      offset: data.length,
      totalChunks: Math.ceil(data.length / (64 * 1024)),
      receivedChunks: Math.ceil(data.length / (64 * 1024)),
      failedChunks: 0,
      sha256: sha256(data),
      metadata: { filename: 'photo.jpg', filetype: 'image/jpeg' },
    });
  });

  it('is interrupted, then resumes from the server offset to a byte-identical file', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const first = new Upload(data, { endpoint: `${base}/files`, chunkSize: 256 * 1024, retryDelays: [] });
    const interrupted = new Promise<number>((resolve, reject) => {
      first.options.onChunkComplete = (_chunk, accepted) => {
        if (accepted >= 768 * 1024) {
          first.abort().then(() => resolve(accepted), reject);
        }
      };
      first.options.onError = reject;
    });
    first.start();
    const acceptedBeforeAbort = await interrupted;
    const url = first.url as string;
    const id = url.split('/').pop() as string;
    expect((await ctx.reader.readProgress(id))?.offset).toBe(acceptedBeforeAbort);
    expect((await ctx.reader.readProgress(id))?.status).toBe('uploading');

    const offsets: number[] = [];
    await upload(data, {
      uploadUrl: url,
      chunkSize: 256 * 1024,
      onChunkComplete: (_c, accepted) => offsets.push(accepted),
    });
    // It resumed where the server said, not from zero.
    expect(offsets[0]).toBe(acceptedBeforeAbort + 256 * 1024);
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    expect(await ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', sha256: sha256(data) });
  });

  describe('through a connection that is reset mid-PATCH', () => {
    let proxy: FaultProxy;
    beforeEach(async () => {
      proxy = await startFaultProxy(Number(new URL(base).port));
    });
    afterEach(() => proxy.close());

    it('retries from the bytes the server kept and completes; the failed PATCH is counted', async () => {
      const data = randomBytes(1024 * 1024);
      // The first connection is reset part-way through the single whole-file PATCH.
      proxy.resetClientsAfter(300 * 1024);
      const errors: string[] = [];
      const done = upload(data, {
        endpoint: `${proxy.url('http')}/files`,
        retryDelays: [100, 200, 400, 800],
        onShouldRetry: (error) => {
          errors.push(String(error));
          proxy.resetClientsAfter(undefined);
          return true;
        },
      });
      const u = await done;
      const id = (u.url ?? '').split('/').pop() as string;
      expect(errors.length).toBeGreaterThan(0);
      expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
      const progress = await ctx.reader.readProgress(id);
      expect(progress).toMatchObject({ status: 'completed', receivedChunks: 16, totalChunks: 16 });
      expect(progress?.failedChunks).toBeGreaterThanOrEqual(1);
    });
  });
});
