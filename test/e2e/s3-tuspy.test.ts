import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';

const MiB = 1024 * 1024;

// Debian's python3-tuspy with Upload-Checksum (sha1) on every PATCH. The first
// chunk's checksum is spoiled on purpose: the server must answer 460, count
// nothing of it, and take the retried chunk.
const TUSPY = `
import sys
from tusclient import client, request
endpoint, path = sys.argv[1], sys.argv[2]
spoil = {'left': 1}
original = request.BaseTusRequest.add_checksum
def add_checksum(self, chunk):
    if spoil['left'] > 0:
        spoil['left'] -= 1
        return original(self, bytes([chunk[0] ^ 0xff]) + chunk[1:])
    return original(self, chunk)
request.BaseTusRequest.add_checksum = add_checksum
statuses = []
original_perform = request.TusRequest.perform
def perform(self):
    original_perform(self)
    statuses.append(self.status_code)
request.TusRequest.perform = perform
c = client.TusClient(endpoint)
uploader = c.uploader(path, chunk_size=6 * 1024 * 1024, metadata={'filename': 'checked.bin'}, upload_checksum=True, retries=2, retry_delay=0)
uploader.upload()
print(' '.join(str(s) for s in statuses))
print(uploader.url)
`;

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
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        '/usr/bin/python3',
        ['-c', TUSPY, `${base}/files`, file],
        { timeout: 60_000 },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    const [statuses, url] = output.trim().split('\n');
    expect(statuses).toBe('460 204 204 204');
    const id = (url as string).split('/').pop() as string;
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
