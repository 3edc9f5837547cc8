import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RedisServerProcess, startRedisServer } from '../../src/redis/local-server.js';
import { sha256 } from '../helpers/digest.js';
import { openPatch } from '../helpers/raw-patch.js';
import { killAllServerProcesses, type ServerProcess, startServerProcess } from '../helpers/server-process.js';
import { keysOfUpload } from '../helpers/upload-keys.js';
import { elapse, waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;
const PIECE = 16 * 1024;
const TOTAL = 64 * PIECE;
const TUS = { 'Tus-Resumable': '1.0.0' };

let redisServer: RedisServerProcess;
let redis: Redis;
let servers: ServerProcess[];
let dir: string;
let prefix: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(inject('tmpRoot'), 'stall-'));
  redisServer = await startRedisServer({ dir: path.join(dir, '.redis'), appendOnly: false });
  redis = new Redis(redisServer.url);
  prefix = `test-${randomUUID()}:`;
  // Two instances with the server's own timings: a 1.5 s liveness key, a 2 s command timeout.
  const env = {
    REDIS_URL: redisServer.url,
    UPLOAD_DIR: dir,
    REDIS_KEY_PREFIX: prefix,
    CHUNK_SIZE_BYTES: String(CHUNK),
  };
  servers = await Promise.all([startServerProcess(env), startServerProcess(env)]);
}, 60_000);
afterAll(async () => {
  await killAllServerProcesses();
  redis.disconnect();
  await redisServer.stop();
});

/** Creates an upload on `server` and streams its body at a steady pace, around `during`; resolves with the PATCH's answer. */
async function streamAround(server: ServerProcess, data: Buffer, during: () => Promise<void>) {
  const created = await fetch(`${server.url}/files`, {
    method: 'POST',
    headers: { ...TUS, 'Upload-Length': String(data.length) },
  });
  const url = new URL(created.headers.get('location') as string).pathname;
  const id = url.split('/').pop() as string;
  const patch = openPatch(server.url, url, 0, data.length);
  let sent = 0;
  const send = async (until: number) => {
    for (; sent < until; sent += PIECE) {
      await patch.write(data.subarray(sent, sent + PIECE));
      await elapse(10); // a fixed pace: a client whose bytes keep coming through the stall
    }
  };
  await send(TOTAL / 4);
  await waitFor(async () => Number(await redis.hget(keysOfUpload(prefix, id).upload, 'offset')) > 0, {
    what: 'bytes stored before the stall',
  });
  const stalled = during();
  await send(TOTAL / 2);
  await stalled;
  await send(TOTAL);
  patch.end();
  return { url, id, answer: await patch.response };
}

/** Sends what `server` lacks of upload `url` (after a 503: a client's resume), and checks the file. */
async function resumeAndCheck(server: ServerProcess, url: string, id: string, data: Buffer) {
  const head = await fetch(`${server.url}${url}`, { method: 'HEAD', headers: TUS });
  const offset = Number(head.headers.get('upload-offset'));
  if (offset < data.length) {
    const rest = await fetch(`${server.url}${url}`, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
      body: data.subarray(offset),
    });
    expect(rest.status).toBe(204);
  }
  expect(sha256(await readFile(path.join(dir, id)))).toBe(sha256(data));
  expect(await redis.hgetall(keysOfUpload(prefix, id).upload)).toMatchObject({
    status: 'completed',
    sha256: sha256(data),
  });
}

/** A stall of `ms` that begins once every one of `count` streams is under way; each stream waits on it. */
function stallOnceAllStream(ms: number, count: number): () => Promise<void> {
  let waiting = 0;
  let begin: () => void = () => {};
  const begun = new Promise<void>((resolve) => {
    begin = resolve;
  });
  const stall = begun.then(async () => {
    redisServer.process.kill('SIGSTOP');
    await elapse(ms); // the stall itself: its length is what the test is about
    redisServer.process.kill('SIGCONT');
  });
  return () => {
    if (++waiting === count) begin();
    return stall;
  };
}

/**
 * A Redis stall shorter than the command timeout costs no upload: the writer
 * waits (its socket paused) and goes on when Redis answers, its lock and
 * liveness confirmed; a longer one answers 503 with Retry-After, and the
 * client resumes. Never 423 (nobody took the uploads over), never 500.
 */
describe('streaming PATCHes on two instances through a Redis stall (SIGSTOP)', () => {
  it.each([500, 1200, 1800])('of %i ms: both complete, every byte in place', async (ms) => {
    const data = [randomBytes(TOTAL), randomBytes(TOTAL)];
    const stall = stallOnceAllStream(ms, servers.length);
    const [a, b] = await Promise.all(servers.map((server, i) => streamAround(server, data[i] as Buffer, stall)));
    for (const [i, r] of [a, b].entries()) {
      if (!r) throw new Error('a stream did not end');
      expect(r.answer.status, `instance ${i}`).toBe(204);
      expect(r.answer.headers['upload-offset']).toBe(String(TOTAL));
      await resumeAndCheck(servers[i] as ServerProcess, r.url, r.id, data[i] as Buffer);
    }
  });

  it('of 2500 ms: each answers 204, or 503 with Retry-After (never 423 or 500); the clients resume to whole files', async () => {
    const data = [randomBytes(TOTAL), randomBytes(TOTAL)];
    const stall = stallOnceAllStream(2500, servers.length);
    const results = await Promise.all(servers.map((server, i) => streamAround(server, data[i] as Buffer, stall)));
    for (const [i, r] of results.entries()) {
      expect([204, 503], `instance ${i}`).toContain(r.answer.status);
      if (r.answer.status === 503) expect(r.answer.headers['retry-after']).toBeTruthy();
      await resumeAndCheck(servers[i] as ServerProcess, r.url, r.id, data[i] as Buffer);
    }
  });
});
