import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Upload } from 'tus-js-client';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { sha256 } from '../helpers/digest.js';
import { openPatch } from '../helpers/raw-patch.js';
import {
  createUploadOn,
  killAllServerProcesses,
  type ServerProcess,
  startServerProcess,
} from '../helpers/server-process.js';
import { keysOfUpload, lockOfUpload } from '../helpers/upload-keys.js';
import { waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;

let dir: string;
let prefix: string;
let redis: Redis;
let a: ServerProcess;
let b: ServerProcess;

beforeEach(async () => {
  dir = mkdtempSync(path.join(inject('tmpRoot'), 'shared-'));
  prefix = `test-${randomUUID()}:`;
  redis = new Redis(inject('redisUrl'));
  const env = {
    REDIS_URL: inject('redisUrl'),
    UPLOAD_DIR: dir,
    REDIS_KEY_PREFIX: prefix,
    CHUNK_SIZE_BYTES: String(CHUNK),
  };
  [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
});
afterEach(async () => {
  await killAllServerProcesses();
  redis.disconnect();
});

describe('two server processes sharing Redis and an upload directory', () => {
  it('serialise concurrent PATCHes at the same offset: one stores its bytes, the other gets 409 or 423, never a mix', async () => {
    const { path: url, id } = await createUploadOn(a, 4 * CHUNK);
    const fromA = Buffer.alloc(2 * CHUNK, 0xaa);
    const fromB = Buffer.alloc(2 * CHUNK, 0xbb);

    // Both PATCHes for offset 0 are under way (headers sent, bodies not yet) on different instances.
    const patchA = openPatch(a.url, url, 0, fromA.length);
    await waitFor(async () => (await redis.exists(lockOfUpload(prefix, id))) === 1, { what: "A's lock" });
    const asks = redis.duplicate();
    let asked = false;
    asks.on('message', (_channel, message) => {
      if (message === id) asked = true;
    });
    await asks.subscribe(`${prefix}locks:release`);
    const patchB = openPatch(b.url, url, 0, fromB.length);
    await waitFor(() => asked, { what: 'B to ask A to let go of the lock' }).finally(() => asks.disconnect());
    await Promise.all([patchA.write(fromA), patchB.write(fromB)]);
    patchA.end();
    patchB.end();
    const statuses = [(await patchA.response).status, (await patchB.response).status].sort();
    expect(statuses[0]).toBe(204);
    expect([409, 423]).toContain(statuses[1]);

    const file = await readFile(path.join(dir, id));
    expect(file.length).toBe(2 * CHUNK);
    expect(file.equals(fromA) || file.equals(fromB)).toBe(true);
    const record = await redis.hgetall(keysOfUpload(prefix, id).upload);
    expect(record).toMatchObject({ offset: String(2 * CHUNK), receivedChunks: '2' });
  });

  it('resume on one instance an upload started on the other, to a byte-identical file', async () => {
    const data = randomBytes(12 * CHUNK);
    const first = new Upload(data, { endpoint: `${a.url}/files`, chunkSize: 2 * CHUNK, retryDelays: [] });
    await new Promise<void>((resolve, reject) => {
      first.options.onChunkComplete = (_c, accepted) => {
        if (accepted >= 6 * CHUNK) first.abort().then(resolve, reject);
      };
      first.options.onError = reject;
      first.start();
    });
    const pathname = new URL(first.url as string).pathname;
    const id = pathname.split('/').pop() as string;
    await new Promise<void>((resolve, reject) => {
      new Upload(data, {
        uploadUrl: `${b.url}${pathname}`,
        chunkSize: 2 * CHUNK,
        onSuccess: () => resolve(),
        onError: reject,
      }).start();
    });
    expect(sha256(await readFile(path.join(dir, id)))).toBe(sha256(data));
    const record = await redis.hgetall(keysOfUpload(prefix, id).upload);
    expect(record).toMatchObject({ status: 'completed', receivedChunks: '12', sha256: sha256(data) });
  });
});
