import { randomBytes } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { draftRequest, interruptedCreation, recordedAtLeast } from '../helpers/draft.js';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';

const PART = 5 * 1024 * 1024;

let storage: S3Storage;
let ctx: TestContext | undefined;
beforeAll(async () => {
  storage = await s3Storage();
});
afterEach(async () => {
  await ctx?.close();
});

describe('IETF draft uploads on S3 (OpenStack Swift s3api)', () => {
  it('a creation cut mid-body resumes from its 104 Location, and the object is byte-identical', async () => {
    const settings = storage.env();
    ctx = await createTestContext(settings);
    const base = await ctx.listen();
    const data = randomBytes(2 * PART + 4321);
    const V6 = { 'Upload-Draft-Interop-Version': '6' };
    const interim = await interruptedCreation(
      base,
      '/files',
      { ...V6, 'Upload-Complete': '?1' },
      data.subarray(0, PART + 1000),
      data.length,
      recordedAtLeast(ctx.reader, PART),
    );
    const url = new URL(String(interim.headers.location)).pathname;
    const id = url.split('/').pop() as string;
    const head = await draftRequest(base, 'HEAD', url, V6);
    expect(head.status).toBe(204);
    expect(head.headers['upload-length']).toBe(String(data.length));
    const offset = Number(head.headers['upload-offset']);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(PART + 1000);

    const rest = await draftRequest(
      base,
      'PATCH',
      url,
      { ...V6, 'Upload-Offset': String(offset), 'Upload-Complete': '?1', 'Content-Type': 'application/partial-upload' },
      data.subarray(offset),
    );
    expect(rest.status).toBe(201);
    expect(rest.headers['upload-complete']).toBe('?1');
    const object = await storage.client.send(
      new GetObjectCommand({ Bucket: storage.bucket, Key: `${settings.S3_KEY_PREFIX}${id}` }),
    );
    const bytes = Buffer.from(
      await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    expect(sha256(bytes)).toBe(sha256(data));
    expect(await ctx.reader.readProgress(id)).toMatchObject({
      status: 'completed',
      sha256: sha256(data),
      totalChunks: 3,
    });
  });

  it('interop 10: a whole file in one request as URLSession sends it, then one cut and resumed by GET, both byte-identical', async () => {
    const settings = storage.env();
    ctx = await createTestContext(settings);
    const base = await ctx.listen();
    const V10 = { 'Upload-Draft-Interop-Version': '10' };
    const whole = randomBytes(PART + 77);
    const one = await draftRequest(
      base,
      'POST',
      '/files',
      { ...V10, 'Upload-Complete': '?1', 'Upload-Length': String(whole.length) },
      whole,
    );
    expect(one.status).toBe(201);
    expect(one.headers['upload-complete']).toBe('?1');
    const oneId = new URL(String(one.headers.location)).pathname.split('/').pop() as string;
    expect(sha256(await objectBytes(settings, oneId))).toBe(sha256(whole));
    expect(await ctx.reader.readProgress(oneId)).toMatchObject({ status: 'completed', sha256: sha256(whole) });

    const data = randomBytes(2 * PART + 99);
    const interim = await interruptedCreation(
      base,
      '/files',
      { ...V10, 'Upload-Complete': '?1' },
      data.subarray(0, PART + 10),
      data.length,
      recordedAtLeast(ctx.reader, PART),
    );
    const url = new URL(String(interim.headers.location)).pathname;
    const got = await draftRequest(base, 'GET', url, V10);
    expect(got.status).toBe(204);
    const offset = Number(got.headers['upload-offset']);
    const rest = await draftRequest(
      base,
      'PATCH',
      url,
      {
        ...V10,
        'Upload-Offset': String(offset),
        'Upload-Complete': '?1',
        'Content-Type': 'application/partial-upload',
      },
      data.subarray(offset),
    );
    expect(rest.status).toBe(201);
    const id = url.split('/').pop() as string;
    expect(sha256(await objectBytes(settings, id))).toBe(sha256(data));
  });
});

/** The bytes of upload `id`'s object in the bucket. */
async function objectBytes(settings: Record<string, string>, id: string): Promise<Buffer> {
  const object = await storage.client.send(
    new GetObjectCommand({ Bucket: storage.bucket, Key: `${settings.S3_KEY_PREFIX}${id}` }),
  );
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}
