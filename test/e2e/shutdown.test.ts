import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { openPatch } from '../helpers/raw-patch.js';
import { killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';
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

describe('graceful shutdown (SIGTERM) in the middle of a PATCH', () => {
  it('keeps and records the bytes received, refuses new requests, exits 0 in time, and the client resumes', async () => {
    const env = {
      REDIS_URL: inject('redisUrl'),
      UPLOAD_DIR: dir,
      REDIS_KEY_PREFIX: prefix,
      CHUNK_SIZE_BYTES: String(CHUNK),
      SHUTDOWN_TIMEOUT_SECONDS: '3',
    };
    const server = await startServerProcess(env);
    const data = randomBytes(8 * CHUNK);
    const created = await fetch(`${server.url}/files`, {
      method: 'POST',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(data.length) },
    });
    const pathname = new URL(created.headers.get('location') as string).pathname;
    const id = pathname.split('/').pop() as string;
    const hashKey = `${prefix}upload:{${id}}`;

    // A PATCH that has sent 3.5 chunks and then goes quiet (a slow mobile client).
    const patch = openPatch(server.url, pathname, 0, data.length);
    await patch.write(data.subarray(0, 3 * CHUNK + CHUNK / 2));
    await waitFor(async () => (Number(await redis.hget(hashKey, 'receivedChunks')) >= 3 ? true : undefined));

    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    await server.waitForOutput(/shutting down/);
    // New requests are refused while it drains (this one may also find the listener already closed).
    const during = await fetch(`${server.url}/files`, { method: 'OPTIONS' }).catch(() => undefined);
    if (during) expect(during.status).toBe(503);

    const { code } = await server.exit;
    expect(code, server.output()).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(3000 + 1000);
    await patch.response.catch(() => {});

    const onDisk = (await stat(path.join(dir, id))).size;
    expect(onDisk).toBe(3 * CHUNK + CHUNK / 2);
    expect(await redis.hget(hashKey, 'offset')).toBe(String(onDisk));
    // The lock was released, not left to expire.
    expect(await redis.exists(`${prefix}lock:{${id}}`)).toBe(0);

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
