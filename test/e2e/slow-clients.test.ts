import { randomBytes, randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/server.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { openPatch } from '../helpers/raw-patch.js';
import { createUpload, head, patch } from '../helpers/tus.js';
import { elapse, waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;
let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ CHUNK_SIZE_BYTES: String(CHUNK), IDLE_TIMEOUT_SECONDS: '1' });
});
afterEach(() => ctx.close());

describe('long and stalled requests', () => {
  it('has no whole-request time limit (Node would kill a PATCH after 300 s)', () => {
    const server = createHttpServer(ctx.app);
    expect(server.requestTimeout).toBe(0);
    expect(server.timeout).toBe(0);
    expect(server.headersTimeout).toBe(20_000);
  });

  it('cuts off a client that stops sending after the idle timeout, keeps its bytes and frees the upload', async () => {
    const base = await ctx.listen();
    const { path: url, id } = await createUpload(request(base), { size: 4 * CHUNK });
    const open = openPatch(base, url, 0, 4 * CHUNK);
    await open.write(randomBytes(10 * 1024));
    const started = Date.now();
    await expect(open.response).rejects.toThrow();
    const cutAfter = Date.now() - started;
    expect(cutAfter).toBeGreaterThanOrEqual(900);
    expect(cutAfter).toBeLessThan(3000);
    await waitFor(async () => ((await ctx.reader.readRecord(id))?.failedChunks === 1 ? true : undefined));
    expect((await head(request(base), url)).headers['upload-offset']).toBe(String(10 * 1024));
    expect((await ctx.reader.readRecord(id))?.offset).toBe(10 * 1024);
    expect((await patch(request(base), url, 10 * 1024, randomBytes(4 * CHUNK - 10 * 1024))).status).toBe(204);
  });

  it('lets a slow but steady PATCH run longer than the idle timeout', async () => {
    const base = await ctx.listen();
    const total = 12 * 1024;
    const { path: url, id } = await createUpload(request(base), { size: total });
    const open = openPatch(base, url, 0, total);
    for (let sent = 0; sent < total; sent += 1024) {
      await open.write(randomBytes(1024));
      await elapse(250); // fixed silences, each under the 1 s idle timeout, 3 s in all: they are the test
    }
    open.end();
    expect((await open.response).status).toBe(204);
    expect((await ctx.reader.readRecord(id))?.status).toBe('completed');
  });

  it('closes connections that dribble headers (slowloris) while a real upload completes', async () => {
    const base = await ctx.listen(1000);
    const port = Number(new URL(base).port);
    const sockets: Socket[] = [];
    const closed: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`PATCH /files/${randomUUID()} HTTP/1.1\r\nHost: x\r\n`);
      closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
      sockets.push(socket);
    }
    const dribble = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write('X-A: b\r\n');
    }, 200);
    try {
      const { path: url } = await createUpload(request(base), { size: 1000 });
      expect((await patch(request(base), url, 0, randomBytes(1000))).status).toBe(204);
      const started = Date.now();
      await Promise.all(closed);
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      clearInterval(dribble);
      for (const s of sockets) s.destroy();
    }
  });
});
