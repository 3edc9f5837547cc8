import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { killAllServerProcesses, startServerProcess } from '../helpers/server-process.js';
import { createUpload, head, patch, TUS } from '../helpers/tus.js';

const CHUNK = 64 * 1024;
let mountPoint: string;
let ctx: TestContext;

// A 1 MiB tmpfs as the upload directory (the tests run as root, as CI does).
beforeAll(async () => {
  mountPoint = mkdtempSync(path.join(inject('tmpRoot'), 'tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
  ctx = await createTestContext({ UPLOAD_DIR: mountPoint, CHUNK_SIZE_BYTES: String(CHUNK) });
});
afterAll(async () => {
  await ctx?.close();
  execFileSync('umount', ['-l', mountPoint]);
});

describe('a disk that fills up', () => {
  it('answers 507 with a clear message, records only what is on disk, and resumes once there is room', async () => {
    const agent = request(ctx.app);
    const data = randomBytes(2 * 1024 * 1024);
    const { path: url, id } = await createUpload(agent, { size: data.length });
    const res = await patch(agent, url, 0, data);
    expect(res.status).toBe(507);
    expect(res.text).toMatch(/upload storage is full/);
    expect(res.text).not.toMatch(/ENOSPC|at .*\.js/);

    const onDisk = (await stat(path.join(mountPoint, id))).size;
    expect(onDisk).toBeLessThan(data.length);
    expect(Number((await head(agent, url)).headers['upload-offset'])).toBe(onDisk);
    const record = await ctx.reader.readRecord(id);
    expect(record?.offset).toBe(onDisk);
    expect(record?.receivedChunks).toBe(Math.floor(onDisk / CHUNK));
    expect(record?.failedChunks).toBe(1);
    expect(await ctx.redis.scard(ctx.keys.forUpload(id).chunksReceived)).toBe(Math.floor(onDisk / CHUNK));

    // Room again (another upload is deleted): the same upload resumes from where the disk says.
    await agent.delete(url).set(TUS);
    const small = await createUpload(agent, { size: 300 * 1024 });
    expect((await patch(agent, small.path, 0, randomBytes(200 * 1024))).status).toBe(204);
    expect((await patch(agent, small.path, 200 * 1024, randomBytes(100 * 1024))).status).toBe(204);
    expect((await ctx.reader.readRecord(small.id))?.status).toBe('completed');
  });
});

describe('the PATCH that fills the disk (a real server process, the body streamed as clients send it)', () => {
  let small: string;
  beforeAll(() => {
    small = mkdtempSync(path.join(inject('tmpRoot'), 'tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', small]);
  });
  afterAll(async () => {
    await killAllServerProcesses();
    execFileSync('umount', ['-l', small]);
  });

  it('is answered 507, not 500; and /readyz then says not ready and leaves no probe file behind', async () => {
    const server = await startServerProcess({
      REDIS_URL: inject('redisUrl'),
      UPLOAD_DIR: small,
      REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
    });
    const size = 3_000_000;
    const created = await fetch(`${server.url}/files`, {
      method: 'POST',
      headers: { ...TUS, 'Upload-Length': String(size) },
    });
    const url = new URL(created.headers.get('location') as string).pathname;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${server.url}${url}`,
        {
          method: 'PATCH',
          headers: {
            ...TUS,
            'Upload-Offset': '0',
            'Content-Type': 'application/offset+octet-stream',
            'Content-Length': String(size),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      const block = randomBytes(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < size) {
          const n = Math.min(block.length, size - sent);
          sent += n;
          if (!req.write(block.subarray(0, n))) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(507);
    for (let i = 0; i < 5; i++) {
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { uploadDir: string }).uploadDir).toMatch(/^not writable/);
    }
    expect(readdirSync(small).filter((name) => name.startsWith('.readyz-'))).toEqual([]);
  });
});
