import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';
import { killAllServerProcesses, type ServerProcess, startServerProcess } from '../helpers/server-process.js';
import { keysOfUpload } from '../helpers/upload-keys.js';

const MiB = 1024 * 1024;

let storage: S3Storage;
let redis: Redis;
beforeAll(async () => {
  storage = await s3Storage();
  redis = new Redis(inject('redisUrl'));
});
afterAll(() => redis.disconnect());
afterEach(() => killAllServerProcesses());

const memoryOf = (pid: number, field: 'VmRSS' | 'VmHWM') =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** Bytes in the files under `dir` (the instance's UPLOAD_DIR: its temporary data). */
function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      total += statSync(path.join(entry.parentPath, entry.name)).size;
    } catch (error) {
      // Listed, then removed before its size was read: a spooled part just sent (a CI run hit it).
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return total;
}

/** One PATCH of `blocks` MiB (the same random MiB again and again), with or without Content-Length. */
function bigPatch(server: ServerProcess, pathname: string, blocks: number, chunked: boolean) {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  return new Promise<{ status: number; sha256: string }>((resolve, reject) => {
    const { hostname, port } = new URL(server.url);
    const headers: Record<string, string> = {
      'Tus-Resumable': '1.0.0',
      'Upload-Offset': '0',
      'Content-Type': 'application/offset+octet-stream',
    };
    if (!chunked) headers['Content-Length'] = String(blocks * MiB);
    const req = request({ host: hostname, port, method: 'PATCH', path: pathname, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha256: hash.digest('hex') }));
    });
    req.on('error', reject);
    let sent = 0;
    const more = () => {
      while (sent < blocks) {
        sent++;
        hash.update(block);
        if (!req.write(block)) return void req.once('drain', more);
      }
      req.end();
    };
    more();
  });
}

async function measuredPatch(blocks: number, chunked: boolean) {
  const uploadDir = mkdtempSync(path.join(inject('tmpRoot'), 'instance-'));
  const env: Record<string, string> = {
    ...storage.env(),
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
    UPLOAD_DIR: uploadDir,
    // A young generation of one fixed, small size: its size is the engine's choice, not this server's (Node 24's
    // made RSS grow 56-87 MiB here where Node 20's made 46; with 1 MiB semi-spaces, 23). What this test measures
    // is whether RSS grows with the body; a server that kept it would grow by up to 256 MiB whatever the flag.
    NODE_OPTIONS: '--max-semi-space-size=4',
  };
  const server = await startServerProcess(env);
  const pid = server.child.pid as number;
  const created = await fetch(`${server.url}/files`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(blocks * MiB) },
  });
  const pathname = new URL(created.headers.get('location') as string).pathname;
  const before = memoryOf(pid, 'VmRSS');
  let tempPeak = 0;
  const sampler = setInterval(() => {
    tempPeak = Math.max(tempPeak, bytesUnder(uploadDir));
  }, 20);
  const result = await bigPatch(server, pathname, blocks, chunked).finally(() => clearInterval(sampler));
  const id = pathname.split('/').pop() as string;
  const record = await redis.hgetall(keysOfUpload(env.REDIS_KEY_PREFIX as string, id).upload);
  const head = await storage.client.send(
    new HeadObjectCommand({ Bucket: storage.bucket, Key: `${env.S3_KEY_PREFIX}${id}` }),
  );
  return { ...result, growthMiB: memoryOf(pid, 'VmHWM') - before, tempPeak, record, objectSize: head.ContentLength };
}

describe('one large PATCH to S3', () => {
  it('256 MiB with Content-Length: streamed part by part, RSS flat, no temporary file at all', async () => {
    const measured = await measuredPatch(256, false);
    expect(measured.status).toBe(204);
    expect(measured.objectSize).toBe(256 * MiB);
    expect(measured.record).toMatchObject({ status: 'completed', sha256: measured.sha256, receivedChunks: '52' });
    // Flat in the file's size: far below the 256 MiB it carried (measured here: see the closing note).
    console.log('growth', measured.growthMiB, 'temp', measured.tempPeak);
    expect(measured.growthMiB).toBeLessThan(96);
    expect(measured.tempPeak).toBe(0);
  }, 120_000);

  it('64 MiB chunked (no Content-Length): spooled one part at a time, never more than a part on disk', async () => {
    const measured = await measuredPatch(64, true);
    expect(measured.status).toBe(204);
    expect(measured.record).toMatchObject({ status: 'completed', sha256: measured.sha256 });
    expect(measured.tempPeak).toBeGreaterThan(0);
    expect(measured.tempPeak).toBeLessThanOrEqual(5 * MiB);
  }, 120_000);
});
