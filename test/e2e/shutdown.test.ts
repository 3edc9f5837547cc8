import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { openPatch } from '../helpers/raw-patch.js';
import { killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';
import { keysOfUpload, lockOfUpload } from '../helpers/upload-keys.js';
import { waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;
let dir: string;
let prefix: string;
let redis: Redis;
beforeEach(() => {
  dir = mkdtempSync(path.join(inject('tmpRoot'), 'shutdown-'));
  prefix = `test-${randomUUID()}:`;
  redis = new Redis(inject('redisUrl'));
});
afterEach(async () => {
  await killAllServerProcesses();
  redis.disconnect();
});

/** One server's settings: its directory and key prefix, 64 KiB chunks, and 3 s to shut down (the cut at 1.5 s). */
const serverEnv = () => ({
  REDIS_URL: inject('redisUrl'),
  UPLOAD_DIR: dir,
  REDIS_KEY_PREFIX: prefix,
  CHUNK_SIZE_BYTES: String(CHUNK),
  SHUTDOWN_TIMEOUT_SECONDS: '3',
});

describe('graceful shutdown (SIGTERM) in the middle of a PATCH', () => {
  it('answers the PATCH 503 at the cut, keeps and records its bytes, stays observable, exits 0 in time, and the client resumes', async () => {
    const env = serverEnv();
    const server = await startServerProcess(env);
    const data = randomBytes(8 * CHUNK);
    const created = await fetch(`${server.url}/files`, {
      method: 'POST',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(data.length) },
    });
    const pathname = new URL(created.headers.get('location') as string).pathname;
    const id = pathname.split('/').pop() as string;
    const hashKey = keysOfUpload(prefix, id).upload;

    // A PATCH that has sent 3.5 chunks and then goes quiet (a slow mobile client).
    const patch = openPatch(server.url, pathname, 0, data.length);
    await patch.write(data.subarray(0, 3 * CHUNK + CHUNK / 2));
    await waitFor(async () => (Number(await redis.hget(hashKey, 'receivedChunks')) >= 3 ? true : undefined));

    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    await server.waitForOutput(/shutting down/);
    // While it drains it still listens: a balancer sees it alive (/healthz 200) but not ready (/readyz 503), and
    // every other new request is refused with 503, Retry-After and Connection: close.
    const healthz = await fetch(`${server.url}/healthz`);
    expect(healthz.status).toBe(200);
    const readyz = await fetch(`${server.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({ shuttingDown: true });
    const during = await fetch(`${server.url}/files`, {
      method: 'POST',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '1' },
    });
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');
    expect(during.headers.get('connection')).toBe('close');
    // Like every error response: its code in X-Error-Code and in the body.
    expect(during.headers.get('x-error-code')).toBe('SHUTTING_DOWN');
    expect(await during.json()).toMatchObject({ error: { code: 'SHUTTING_DOWN' } });

    // At the cut (half the 3 s bound) the PATCH is answered, not dropped: 503, and the connection ends with it.
    const answered = await patch.response;
    expect(answered.status).toBe(503);
    expect(answered.headers.connection).toBe('close');
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(1400);

    const { code } = await server.exit;
    expect(code, server.output()).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(3000 + 1000);
    // The listener closed when the drain ended.
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();

    const onDisk = (await stat(path.join(dir, id))).size;
    expect(onDisk).toBe(3 * CHUNK + CHUNK / 2);
    expect(await redis.hget(hashKey, 'offset')).toBe(String(onDisk));
    // The lock was released, not left to expire.
    expect(await redis.exists(lockOfUpload(prefix, id))).toBe(0);

    const next = await startServerProcess(env);
    const head = await fetch(`${next.url}${pathname}`, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    expect(Number(head.headers.get('upload-offset'))).toBe(onDisk);
    const rest = await fetch(`${next.url}${pathname}`, {
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': String(onDisk),
        'Content-Type': 'application/offset+octet-stream',
      },
      body: data.subarray(onDisk),
    });
    expect(rest.status).toBe(204);
    expect(await redis.hget(hashKey, 'status')).toBe('completed');
  });
});

describe('graceful shutdown in the middle of an IETF draft append', () => {
  it('answers the append 503 with Connection: close at the cut and records what it stored', async () => {
    const server = await startServerProcess(serverEnv());
    const data = randomBytes(8 * CHUNK);
    const V8 = { 'Upload-Draft-Interop-Version': '8' };
    const created = await fetch(`${server.url}/files`, {
      method: 'POST',
      headers: { ...V8, 'Upload-Complete': '?0', 'Content-Length': '0' },
    });
    expect(created.status).toBe(201);
    const pathname = new URL(created.headers.get('location') as string).pathname;
    const id = pathname.split('/').pop() as string;

    const append = openPatch(server.url, pathname, 0, data.length, {
      ...V8,
      'Upload-Complete': '?1',
      'Content-Type': 'application/partial-upload',
    });
    await append.write(data.subarray(0, 3 * CHUNK));
    await waitFor(async () =>
      Number(await redis.hget(keysOfUpload(prefix, id).upload, 'offset')) > 0 ? true : undefined,
    );

    server.child.kill('SIGTERM');
    const answered = await append.response;
    expect(answered.status).toBe(503);
    expect(answered.headers.connection).toBe('close');
    expect((await server.exit).code, server.output()).toBe(0);
    const onDisk = (await stat(path.join(dir, id))).size;
    expect(onDisk).toBe(3 * CHUNK);
    expect(await redis.hget(keysOfUpload(prefix, id).upload, 'offset')).toBe(String(onDisk));
  });
});
