import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { sha256 } from '../helpers/digest.js';
import { olderBuild } from '../helpers/old-build.js';
import { openPatch } from '../helpers/raw-patch.js';
import {
  createUploadOn,
  killAllServerProcesses,
  type ServerProcess,
  startServerProcess,
} from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';

/** The commit before instance liveness: its lock tokens are random UUIDs, and it takes no lock over. */
const BEFORE_LIVENESS = 'f5ddf90';
const CHUNK = 64 * 1024;
const TUS = { 'Tus-Resumable': '1.0.0' };

let oldDir: string;
let redis: Redis;
let env: Record<string, string>;
let prefix: string;
beforeAll(async () => {
  oldDir = await olderBuild(BEFORE_LIVENESS, path.join(mkdtempSync(path.join(inject('tmpRoot'), 'old-')), 'src-tree'));
  redis = new Redis(inject('redisUrl'));
}, 60_000);
afterAll(() => redis.disconnect());
beforeEach(() => {
  prefix = `test-${randomUUID()}:`;
  env = {
    REDIS_URL: inject('redisUrl'),
    UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'mixed-')),
    REDIS_KEY_PREFIX: prefix,
    CHUNK_SIZE_BYTES: String(CHUNK),
    LOCK_TTL_MS: '3000',
  };
});
afterEach(() => killAllServerProcesses());

const head = (server: ServerProcess, url: string) => fetch(`${server.url}${url}`, { method: 'HEAD', headers: TUS });
const patchOn = (server: ServerProcess, url: string, offset: number, body: Buffer) =>
  fetch(`${server.url}${url}`, {
    method: 'PATCH',
    headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
    body,
  });

/** A PATCH on `server` that has stored its first `sent` bytes and stays open. */
async function holding(server: ServerProcess, upload: { path: string; id: string }, data: Buffer, sent: number) {
  const patch = openPatch(server.url, upload.path, 0, data.length);
  await patch.write(data.subarray(0, sent));
  await waitFor(async () => Number(await redis.hget(`${prefix}upload:{${upload.id}}`, 'offset')) >= sent, {
    what: 'the first bytes recorded',
  });
  return patch;
}

/**
 * Mixed versions never mix bytes (a rolling upgrade runs old and new
 * instances side by side): a lock whose token this build cannot interpret is
 * asked to let go, or waited out, never taken over as dead.
 */
describe(`this build beside the one before instance liveness (${BEFORE_LIVENESS})`, () => {
  it("asks an older build's holder to let go instead of taking its lock: the file is the client's, byte for byte", async () => {
    const [old, current] = await Promise.all([startServerProcess(env, { cwd: oldDir }), startServerProcess(env)]);
    const data = randomBytes(16 * CHUNK);
    const upload = await createUploadOn(old, data.length);
    const patch = await holding(old, upload, data, 5 * CHUNK);
    const took = await head(current, upload.path);
    expect(took.status).toBe(200);
    const offset = Number(took.headers.get('upload-offset'));
    // What the old holder still had coming is someone else's now: if it were still writing, this would land.
    await patch.write(randomBytes(4 * CHUNK));
    patch.end();
    await patch.response.catch(() => {});
    const rest = await patchOn(current, upload.path, offset, data.subarray(offset));
    expect(rest.status).toBe(204);
    expect(sha256(await readFile(path.join(env.UPLOAD_DIR as string, upload.id)))).toBe(sha256(data));
    expect(await redis.hgetall(`${prefix}upload:{${upload.id}}`)).toMatchObject({
      status: 'completed',
      sha256: sha256(data),
    });
  });

  it('waits out the lock of an older build that died holding it (LOCK_TTL_MS), never taking it over as dead', async () => {
    const [old, current] = await Promise.all([startServerProcess(env, { cwd: oldDir }), startServerProcess(env)]);
    const data = randomBytes(8 * CHUNK);
    const upload = await createUploadOn(old, data.length);
    await holding(old, upload, data, 3 * CHUNK);
    const killedAt = Date.now();
    await old.kill('SIGKILL');
    const took = await head(current, upload.path);
    expect(took.status).toBe(200);
    // Not at once (as for a holder of this build whose liveness key is gone): after the old lock's TTL ran out.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(1500);
    const offset = Number(took.headers.get('upload-offset'));
    expect((await patchOn(current, upload.path, offset, data.subarray(offset))).status).toBe(204);
    expect(sha256(await readFile(path.join(env.UPLOAD_DIR as string, upload.id)))).toBe(sha256(data));
  });

  it('lets go when the older build asks for an upload this one holds: the old build finishes it, byte for byte', async () => {
    const [old, current] = await Promise.all([startServerProcess(env, { cwd: oldDir }), startServerProcess(env)]);
    const data = randomBytes(12 * CHUNK);
    const upload = await createUploadOn(current, data.length);
    const patch = await holding(current, upload, data, 4 * CHUNK);
    const took = await head(old, upload.path);
    expect(took.status).toBe(200);
    const offset = Number(took.headers.get('upload-offset'));
    expect((await patch.response).status).toBe(423);
    expect((await patchOn(old, upload.path, offset, data.subarray(offset))).status).toBe(204);
    expect(sha256(await readFile(path.join(env.UPLOAD_DIR as string, upload.id)))).toBe(sha256(data));
  });
});
