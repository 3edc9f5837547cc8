import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Upload } from 'tus-js-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { sha256 } from '../helpers/digest.js';
import { type OpenPatch, openPatch } from '../helpers/raw-patch.js';
import {
  createUploadOn,
  freePort,
  killAllServerProcesses,
  type ServerProcess,
  startServerProcess,
} from '../helpers/server-process.js';
import { keysOfUpload } from '../helpers/upload-keys.js';
import { elapse, waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;

let redis: Redis;
let env: Record<string, string>;
let prefix: string;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(() => redis.disconnect());
beforeEach(() => {
  prefix = `test-${randomUUID()}:`;
  env = {
    REDIS_URL: inject('redisUrl'),
    UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'handover-')),
    REDIS_KEY_PREFIX: prefix,
    CHUNK_SIZE_BYTES: String(CHUNK),
    // The default: a crashed holder's lock would block its upload this long without the handover.
    LOCK_TTL_MS: '15000',
  };
});
afterEach(() => killAllServerProcesses());

async function headOn(server: ServerProcess, pathname: string) {
  const started = Date.now();
  const res = await fetch(`${server.url}${pathname}`, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
  return { status: res.status, offset: Number(res.headers.get('upload-offset')), ms: Date.now() - started };
}

const record = (id: string) => redis.hgetall(keysOfUpload(prefix, id).upload);

function resume(data: Buffer, uploadUrl: string, retryDelays?: number[]): Promise<void> {
  return new Promise((resolve, reject) =>
    new Upload(data, {
      uploadUrl,
      chunkSize: 4 * CHUNK,
      ...(retryDelays ? { retryDelays } : {}),
      onSuccess: () => resolve(),
      onError: reject,
    }).start(),
  );
}

/** A PATCH that has sent `sent` bytes of `data` and stays open, once the server has recorded them. */
async function streaming(server: ServerProcess, upload: { path: string; id: string }, data: Buffer, sent: number) {
  const patch = openPatch(server.url, upload.path, 0, data.length);
  await patch.write(data.subarray(0, sent));
  await waitFor(async () => Number((await record(upload.id)).offset) >= sent - (sent % CHUNK), {
    what: `${upload.id} to record its first ${sent} bytes`,
  });
  return patch;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

describe('handover after a crash (kill -9 of the holder)', () => {
  it('five uploads held mid-PATCH by the killed instance answer HEAD on the other within 2 s, and resume byte-identical', async () => {
    const [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    const uploads = await Promise.all(Array.from({ length: 5 }, () => createUploadOn(a, 16 * CHUNK)));
    const datas = uploads.map(() => randomBytes(16 * CHUNK));
    const patches: OpenPatch[] = [];
    for (const [i, upload] of uploads.entries())
      patches.push(await streaming(a, upload, datas[i] as Buffer, 5 * CHUNK));
    await a.kill();
    const killedAt = Date.now();
    const answeredAfter = await Promise.all(
      uploads.map(async (upload) => {
        const head = await waitFor(
          async () => {
            const h = await headOn(b, upload.path);
            return h.status === 200 ? h : undefined;
          },
          { what: `HEAD of ${upload.id} on the other instance`, timeoutMs: 20_000, intervalMs: 50 },
        );
        expect(head.offset).toBe(5 * CHUNK);
        return Date.now() - killedAt;
      }),
    );
    console.log(`HEAD answered after the kill, ms: ${answeredAfter.join(' ')} (median ${median(answeredAfter)})`);
    for (const ms of answeredAfter) expect(ms).toBeLessThan(2000);
    await Promise.all(uploads.map((upload, i) => resume(datas[i] as Buffer, `${b.url}${upload.path}`)));
    for (const [i, upload] of uploads.entries()) {
      expect(sha256(await readFile(path.join(env.UPLOAD_DIR as string, upload.id)))).toBe(sha256(datas[i] as Buffer));
      expect(await record(upload.id)).toMatchObject({
        status: 'completed',
        offset: String(16 * CHUNK),
        receivedChunks: '16',
        totalChunks: '16',
        failedChunks: '0',
      });
    }
  });

  it('tus-js-client with its default retry delays survives a kill -9 and a restart of its server mid-upload', async () => {
    const port = await freePort();
    const first = await startServerProcess({ ...env, PORT: String(port) });
    const data = randomBytes(64 * CHUNK);
    let killed = false;
    let upload: Upload | undefined;
    const done = new Promise<void>((resolve, reject) => {
      upload = new Upload(data, {
        // The server's own PORT, which startServerProcess's url does not know of.
        endpoint: `http://127.0.0.1:${port}/files`,
        chunkSize: 8 * CHUNK,
        onChunkComplete: (_chunk, accepted) => {
          if (killed || accepted < 16 * CHUNK) return;
          killed = true;
          // Killed with the next PATCH under way, and started again on the same port.
          setTimeout(() => {
            void first.kill().then(() => startServerProcess({ ...env, PORT: String(port) }));
          }, 5);
        },
        onSuccess: () => resolve(),
        onError: reject,
      });
      upload.start();
    });
    await done;
    expect(killed).toBe(true);
    const id = (upload?.url ?? '').split('/').pop() as string;
    expect(sha256(await readFile(path.join(env.UPLOAD_DIR as string, id)))).toBe(sha256(data));
    expect(await record(id)).toMatchObject({ status: 'completed', receivedChunks: '64' });
  });
});

describe('a holder that is only paused (SIGSTOP) past the handover window', () => {
  it('writes nothing more when it wakes; the new holder’s bytes are intact', async () => {
    const [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    const upload = await createUploadOn(a, 8 * CHUNK);
    const first = Buffer.alloc(8 * CHUNK, 0xaa);
    const patch = await streaming(a, upload, first, 3 * CHUNK);
    process.kill(a.child.pid as number, 'SIGSTOP');
    let woken = false;
    try {
      // Past INSTANCE_TTL_MS (1.5 s): B takes the upload over while A sleeps.
      const head = await waitFor(
        async () => {
          const h = await headOn(b, upload.path);
          return h.status === 200 ? h : undefined;
        },
        { what: 'HEAD on the other instance while the holder sleeps', timeoutMs: 20_000, intervalMs: 100 },
      );
      expect(head.offset).toBe(3 * CHUNK);
      const second = Buffer.alloc(5 * CHUNK, 0xbb);
      const res = await fetch(`${b.url}${upload.path}`, {
        method: 'PATCH',
        headers: {
          'Tus-Resumable': '1.0.0',
          'Upload-Offset': String(3 * CHUNK),
          'Content-Type': 'application/offset+octet-stream',
        },
        body: second,
      });
      expect(res.status).toBe(204);
      process.kill(a.child.pid as number, 'SIGCONT');
      woken = true;
      // A's client goes on sending (0xaa) into the PATCH A held: none of it may land.
      await patch.write(first.subarray(3 * CHUNK)).catch(() => {});
      await elapse(1000); // fixed: time for a woken writer to (wrongly) write what it was sent
      const file = await readFile(path.join(env.UPLOAD_DIR as string, upload.id));
      const expected = Buffer.concat([first.subarray(0, 3 * CHUNK), second]);
      expect(file.equals(expected)).toBe(true);
      expect(await record(upload.id)).toMatchObject({
        status: 'completed',
        sha256: sha256(expected),
        offset: String(8 * CHUNK),
      });
    } finally {
      if (!woken) process.kill(a.child.pid as number, 'SIGCONT');
    }
  });
});

describe('handover while the holder lives (a new request ends the one in flight)', () => {
  it('HEAD and DELETE during a streaming PATCH are answered within 500 ms, on the same and on the other instance', async () => {
    const [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    const timings: number[] = [];
    for (const [where, server] of [
      ['same', a],
      ['other', b],
    ] as const) {
      const upload = await createUploadOn(a, 32 * CHUNK);
      const data = randomBytes(32 * CHUNK);
      const patch = await streaming(a, upload, data, 4 * CHUNK);
      const head = await headOn(server, upload.path);
      expect(head.status, where).toBe(200);
      // What the PATCH stored is recorded, and is what HEAD says.
      expect(head.offset, where).toBe(4 * CHUNK);
      expect(Number((await record(upload.id)).offset)).toBe(4 * CHUNK);
      timings.push(head.ms);
      // The superseded PATCH's sender (say, a client whose network changed) is gone.
      patch.reset();
      // DELETE of an upload another request is streaming into.
      const other = await createUploadOn(a, 32 * CHUNK);
      const stream = await streaming(a, other, data, 4 * CHUNK);
      const started = Date.now();
      const deleted = await fetch(`${server.url}${other.path}`, {
        method: 'DELETE',
        headers: { 'Tus-Resumable': '1.0.0' },
      });
      timings.push(Date.now() - started);
      expect(deleted.status, where).toBe(204);
      expect(await record(other.id)).toEqual({});
      stream.reset();
    }
    console.log(`HEAD/DELETE answered during a streaming PATCH, ms: ${timings.join(' ')} (median ${median(timings)})`);
    for (const ms of timings) expect(ms).toBeLessThan(500);
  });
});
