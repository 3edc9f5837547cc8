import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Upload } from 'tus-js-client';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { type RedisServerProcess, startRedisServer } from '../../src/redis/local-server.js';
import { sha256 } from '../helpers/digest.js';
import { openPatch } from '../helpers/raw-patch.js';
import { killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';
import { keysOfUpload } from '../helpers/upload-keys.js';
import { elapse, waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;

let dir: string;
let prefix: string;
const cleanups: Array<() => Promise<void> | void> = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(inject('tmpRoot'), 'crash-'));
  prefix = `test-${randomUUID()}:`;
});
afterEach(async () => {
  await killAllServerProcesses();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function serverEnv(redisUrl: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    UPLOAD_DIR: dir,
    REDIS_KEY_PREFIX: prefix,
    CHUNK_SIZE_BYTES: String(CHUNK),
    // A crashed holder's lock frees itself within this.
    LOCK_TTL_MS: '1500',
    LOCK_ACQUIRE_TIMEOUT_MS: '5000',
    REDIS_COMMAND_TIMEOUT_MS: '1000',
  };
}

function resume(data: Buffer, uploadUrl: string, retryDelays = [200, 500, 1000, 1000, 2000, 2000]): Promise<void> {
  return new Promise((resolve, reject) => {
    new Upload(data, {
      uploadUrl,
      chunkSize: 4 * CHUNK,
      retryDelays,
      onSuccess: () => resolve(),
      onError: reject,
    }).start();
  });
}

async function expectCountsToMatchDisk(redis: Redis, id: string) {
  const onDisk = (await stat(path.join(dir, id))).size;
  const hash = await redis.hgetall(keysOfUpload(prefix, id).upload);
  const members = await redis.smembers(keysOfUpload(prefix, id).chunksReceived);
  expect(Number(hash.offset)).toBe(onDisk);
  expect(Number(hash.receivedChunks)).toBe(members.length);
  return { onDisk, hash };
}

async function expectEveryKeyToExpire(redis: Redis) {
  for (const key of await redis.keys(`${prefix}*`)) expect(await redis.pttl(key), key).toBeGreaterThan(0);
}

describe('kill -9 of the server in the middle of a PATCH', () => {
  it('restarts with HEAD at what is on disk; tus-js-client resumes to the right SHA-256 and counts match the disk', async () => {
    const redis = new Redis(inject('redisUrl'));
    cleanups.push(() => redis.disconnect());
    const first = await startServerProcess(serverEnv(inject('redisUrl')));
    const data = randomBytes(16 * CHUNK);
    const created = await fetch(`${first.url}/files`, {
      method: 'POST',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(data.length) },
    });
    const pathname = new URL(created.headers.get('location') as string).pathname;
    const id = pathname.split('/').pop() as string;

    const patch = openPatch(first.url, pathname, 0, data.length);
    await patch.write(data.subarray(0, 5 * CHUNK + 1234));
    await waitFor(async () =>
      Number(await redis.hget(keysOfUpload(prefix, id).upload, 'receivedChunks')) >= 5 ? true : undefined,
    );
    await first.kill('SIGKILL');
    await patch.response.catch(() => {});

    const second = await startServerProcess(serverEnv(inject('redisUrl')));
    const onDisk = (await stat(path.join(dir, id))).size;
    const head = await fetch(`${second.url}${pathname}`, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('upload-offset'))).toBe(onDisk);
    await expectCountsToMatchDisk(redis, id);

    await resume(data, `${second.url}${pathname}`);
    expect(sha256(await readFile(path.join(dir, id)))).toBe(sha256(data));
    const { hash } = await expectCountsToMatchDisk(redis, id);
    expect(hash).toMatchObject({ status: 'completed', receivedChunks: '16', sha256: sha256(data) });
  });
});

describe('Redis faults during an upload', () => {
  let redisServer: RedisServerProcess;
  let redis: Redis;
  beforeEach(async () => {
    redisServer = await startRedisServer({ dir: path.join(dir, 'redis'), appendOnly: true });
    cleanups.push(() => redisServer.stop());
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    redis.on('error', () => {});
    cleanups.push(() => redis.disconnect());
  });

  it('survives kill -9 of Redis (append-only file) and its restart: the upload completes, nothing counted twice, every key keeps a TTL', async () => {
    const server = await startServerProcess(serverEnv(redisServer.url));
    const data = randomBytes(24 * CHUNK);
    const created = await fetch(`${server.url}/files`, {
      method: 'POST',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(data.length) },
    });
    const pathname = new URL(created.headers.get('location') as string).pathname;
    const id = pathname.split('/').pop() as string;
    // appendfsync everysec: wait until the creation is in the append-only file, which is what the restart reads
    // (what Redis wrote survives its kill -9; the fsync only matters if the machine goes down).
    const aof = path.join(dir, 'redis', 'appendonlydir');
    const inAof = async () => {
      const files = await readdir(aof);
      const texts = await Promise.all(files.map((name) => readFile(path.join(aof, name), 'latin1')));
      return texts.some((text) => text.includes(id));
    };
    await waitFor(inAof, { what: `upload ${id} in the append-only file` });

    let killed = false;
    const uploading = new Promise<void>((resolve, reject) => {
      new Upload(data, {
        uploadUrl: `${server.url}${pathname}`,
        chunkSize: 2 * CHUNK,
        retryDelays: [300, 500, 1000, 1000, 1000, 2000, 2000, 2000],
        onChunkComplete: (_c, accepted) => {
          if (!killed && accepted >= 8 * CHUNK) {
            killed = true;
            redisServer.process.kill('SIGKILL');
            setTimeout(() => {
              startRedisServer({ dir: path.join(dir, 'redis'), appendOnly: true, port: redisServer.port }).then(
                (restarted) => {
                  redisServer = restarted;
                },
                reject,
              );
            }, 700);
          }
        },
        onSuccess: () => resolve(),
        onError: reject,
      }).start();
    });
    await uploading;
    expect(killed).toBe(true);
    expect(sha256(await readFile(path.join(dir, id)))).toBe(sha256(data));
    const { hash } = await expectCountsToMatchDisk(redis, id);
    expect(hash).toMatchObject({ status: 'completed', receivedChunks: '24', totalChunks: '24' });
    await expectEveryKeyToExpire(redis);
  });

  it('answers 503 within the bound while Redis is hung (SIGSTOP), and state equals disk after SIGCONT', async () => {
    const server = await startServerProcess(serverEnv(redisServer.url));
    const created = await fetch(`${server.url}/files`, {
      method: 'POST',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(4 * CHUNK) },
    });
    const pathname = new URL(created.headers.get('location') as string).pathname;
    const id = pathname.split('/').pop() as string;
    const tus = { 'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream' };
    await fetch(`${server.url}${pathname}`, {
      method: 'PATCH',
      headers: { ...tus, 'Upload-Offset': '0' },
      body: randomBytes(CHUNK),
    });

    redisServer.process.kill('SIGSTOP');
    try {
      for (const request of [
        () => fetch(`${server.url}${pathname}`, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } }),
        () =>
          fetch(`${server.url}${pathname}`, {
            method: 'PATCH',
            headers: { ...tus, 'Upload-Offset': String(CHUNK) },
            body: randomBytes(CHUNK),
          }),
        () =>
          fetch(`${server.url}/files`, {
            method: 'POST',
            headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '10' },
          }),
        () => fetch(`${server.url}/api/uploads/${id}/progress`),
      ]) {
        const started = Date.now();
        const res = await request();
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBeTruthy();
        expect(Date.now() - started).toBeLessThan(3000);
      }
    } finally {
      redisServer.process.kill('SIGCONT');
    }
    // The timed-out commands may run late; the state must still equal the disk. A fixed time: the check is that
    // nothing late spoils the state, so it comes once late commands (1 s timeout) and a late lock (1.5 s) had their time.
    await elapse(1600);
    const head = await fetch(`${server.url}${pathname}`, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    expect(head.status).toBe(200);
    const { onDisk } = await expectCountsToMatchDisk(redis, id);
    expect(Number(head.headers.get('upload-offset'))).toBe(onDisk);
    await expectEveryKeyToExpire(redis);
  });
});
