import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Upload } from 'tus-js-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appPerTest } from '../helpers/context.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';

const CHUNK = 64 * 1024;

const app = appPerTest({ CHUNK_SIZE_BYTES: String(CHUNK) });

// Debian's python3-tuspy (installed by .ci/run), an independent tus client.
const TUSPY = `
import sys
from tusclient import client
endpoint, path, stop_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = client.TusClient(endpoint)
first = c.uploader(path, chunk_size=100000, metadata={'filename': 'from-python.bin'})
first.upload(stop_at=stop_at)
# A second uploader that knows only the URL resumes where the server says.
second = c.uploader(path, url=first.url, chunk_size=100000)
print('resumed-at', second.offset)
second.upload()
print(first.url)
`;

import { sha256 } from '../helpers/digest.js';

describe('tuspy (python3-tuspy)', () => {
  it('uploads in chunks, stops, and a new uploader resumes to a byte-identical file', async () => {
    const data = randomBytes(700_000);
    const file = path.join(app.ctx.dir, 'source.bin');
    await writeFile(file, data);
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        '/usr/bin/python3',
        ['-c', TUSPY, `${app.base}/files`, file, '300000'],
        { timeout: 30_000 },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    const [resumed, url] = output.trim().split('\n');
    expect(resumed).toBe('resumed-at 300000');
    const id = (url ?? '').split('/').pop() as string;
    expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
    expect(await app.ctx.reader.readProgress(id)).toMatchObject({
      status: 'completed',
      sha256: sha256(data),
      receivedChunks: Math.ceil(data.length / CHUNK),
      metadata: { filename: 'from-python.bin' },
    });
  });
});

describe('a PATCH whose response is lost', () => {
  let proxy: FaultProxy;
  beforeEach(async () => {
    proxy = await startFaultProxy(Number(new URL(app.base).port));
  });
  afterEach(() => proxy.close());

  it('is retried by tus-js-client from the server offset, and no chunk is counted twice', async () => {
    const data = randomBytes(6 * CHUNK);
    let armed = false;
    const url = await new Promise<string>((resolve, reject) => {
      const u: Upload = new Upload(data, {
        endpoint: `${proxy.url('http')}/files`,
        chunkSize: 2 * CHUNK,
        retryDelays: [50, 100, 200],
        onChunkComplete: () => {
          // The server will store the next PATCH, but its 204 never reaches the client.
          if (!armed) {
            armed = true;
            proxy.dropNextReply();
          }
        },
        onSuccess: () => resolve(u.url as string),
        onError: reject,
      });
      u.start();
    });
    expect(proxy.dropped).toBe(1);
    const id = url.split('/').pop() as string;
    expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
    expect(await app.ctx.reader.readRecord(id)).toMatchObject({
      status: 'completed',
      receivedChunks: 6,
      totalChunks: 6,
    });
    expect(await app.ctx.redis.scard(app.ctx.keys.forUpload(id).chunksReceived)).toBe(6);
  });
});
