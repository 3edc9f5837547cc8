import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Upload, type UploadOptions } from 'tus-js-client';
import { describe, expect, it } from 'vitest';
import { appPerTest } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';

const CHUNK = 64 * 1024;

const app = appPerTest({ CHUNK_SIZE_BYTES: String(CHUNK) });

/** tus-js-client's `protocol` option (4.x), which its typings do not list yet. */
type DraftOptions = UploadOptions & { protocol: 'ietf-draft-03' | 'ietf-draft-05' };

function run(data: Buffer, options: DraftOptions): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const upload: Upload = new Upload(data, { ...options, onSuccess: () => resolve(upload), onError: reject });
    upload.start();
  });
}

describe.each([
  ['ietf-draft-03', 5],
  ['ietf-draft-05', 6],
] as const)('tus-js-client with protocol: %s (interop version %i)', (protocol, version) => {
  it('uploads, is interrupted, resumes from the server offset, and the file and record are exact', async () => {
    const data = randomBytes(12 * CHUNK + 321);
    const sent: Array<{ method: string; interop: string | undefined; tus: string | undefined }> = [];
    const onBeforeRequest: UploadOptions['onBeforeRequest'] = (req) => {
      sent.push({
        method: req.getMethod(),
        interop: req.getHeader('Upload-Draft-Interop-Version'),
        tus: req.getHeader('Tus-Resumable'),
      });
    };
    const first = new Upload(data, {
      endpoint: `${app.base}/files`,
      chunkSize: 4 * CHUNK,
      retryDelays: [],
      metadata: { filename: 'clip.mov', filetype: 'video/quicktime' },
      onBeforeRequest,
      protocol,
    } as DraftOptions);
    const accepted = await new Promise<number>((resolve, reject) => {
      first.options.onChunkComplete = (_chunk, bytes) => {
        if (bytes >= 4 * CHUNK) first.abort().then(() => resolve(bytes), reject);
      };
      first.options.onError = reject;
      first.start();
    });
    const url = first.url as string;
    const id = url.split('/').pop() as string;
    expect(await app.ctx.reader.readProgress(id)).toMatchObject({
      status: 'uploading',
      offset: accepted,
      size: data.length,
    });

    const offsets: number[] = [];
    const done = await run(data, {
      uploadUrl: url,
      chunkSize: 4 * CHUNK,
      onBeforeRequest,
      onChunkComplete: (_chunk, bytes) => offsets.push(bytes),
      protocol,
    });
    expect(done.url).toBe(url);
    // It resumed where the server said (a HEAD), not from zero.
    expect(offsets[0]).toBe(accepted + 4 * CHUNK);
    // Every request spoke the draft, in the version the protocol name stands for; none spoke tus.
    expect(new Set(sent.map((r) => r.interop))).toEqual(new Set([String(version)]));
    expect(sent.filter((r) => r.tus !== undefined)).toEqual([]);
    expect(sent.map((r) => r.method)).toEqual(expect.arrayContaining(['POST', 'PATCH', 'HEAD']));

    expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
    const record = await app.ctx.redis.hgetall(app.ctx.keys.forUpload(id).upload);
    expect(record).toMatchObject({
      status: 'completed',
      size: String(data.length),
      offset: String(data.length),
      chunkSize: String(CHUNK),
      totalChunks: '13',
      receivedChunks: '13',
      failedChunks: '0',
      sha256: sha256(data),
    });
    expect(JSON.parse(record.metadata as string)).toEqual({ filename: 'clip.mov', filetype: 'video/quicktime' });
    expect(await app.ctx.redis.scard(app.ctx.keys.forUpload(id).chunksReceived)).toBe(13);
  });

  it('sends the data with the creation, and a resumed upload that is already complete ends at once', async () => {
    const data = randomBytes(3 * CHUNK);
    const done = await run(data, { endpoint: `${app.base}/files`, uploadDataDuringCreation: true, protocol });
    const url = done.url as string;
    const id = url.split('/').pop() as string;
    expect(await app.ctx.reader.readProgress(id)).toMatchObject({ status: 'completed', sha256: sha256(data) });
    // A HEAD tells it the upload is whole (Upload-Length is the offset): nothing more is sent.
    const methods: string[] = [];
    await run(data, { uploadUrl: url, protocol, onBeforeRequest: (req) => void methods.push(req.getMethod()) });
    expect(methods).toEqual(['HEAD']);
  });
});
