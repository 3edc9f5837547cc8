import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';
import { tuspyWithSpoiledChecksum } from '../helpers/tuspy.js';

const MiB = 1024 * 1024;

let storage: S3Storage;
let ctx: TestContext;
beforeAll(async () => {
  storage = await s3Storage();
});
afterEach(() => ctx.close());

describe('tuspy on S3', () => {
  it('with Upload-Checksum: a spoiled chunk gets 460 and counts for nothing; the retried one completes the file', async () => {
    const env = storage.env();
    ctx = await createTestContext(env);
    const base = await ctx.listen();
    const data = randomBytes(13 * MiB);
    const file = path.join(ctx.dir, 'source.bin');
    await writeFile(file, data);
    const { statuses, url } = await tuspyWithSpoiledChecksum(`${base}/files`, file, 6 * MiB);
    expect(statuses).toBe('460 204 204 204');
    const id = url.split('/').pop() as string;
    const reply = await storage.client.send(
      new GetObjectCommand({ Bucket: storage.bucket, Key: `${env.S3_KEY_PREFIX}${id}` }),
    );
    const stored = Buffer.from(
      await (reply.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    expect(sha256(stored)).toBe(sha256(data));
    expect(await ctx.reader.readRecord(id)).toMatchObject({
      status: 'completed',
      failedChunks: 1,
      receivedChunks: 3,
      sha256: sha256(data),
    });
  });
});
