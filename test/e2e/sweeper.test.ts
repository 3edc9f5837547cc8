import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createUpload, patch } from '../helpers/tus.js';
import { elapse, waitFor } from '../helpers/wait.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ UPLOAD_TTL_SECONDS: '1', COMPLETED_RETENTION_SECONDS: '3600' });
});
afterEach(() => ctx.close());

/** A fixed time: the 1 s upload TTL (the least UPLOAD_TTL_SECONDS takes) must run out. */
const pastExpiry = () => elapse(1100);
const anHourAgo = () => (Date.now() - 3600_000) / 1000;

describe('the sweeper', () => {
  it('removes expired unfinished uploads and orphans, and keeps completed and live ones', async () => {
    const agent = request(ctx.app);
    const expired = await createUpload(agent, { size: 100 });
    await patch(agent, expired.path, 0, randomBytes(10));
    const completed = await createUpload(agent, { size: 10 });
    await patch(agent, completed.path, 0, randomBytes(10));
    await pastExpiry();
    const live = await createUpload(agent, { size: 100 });

    // A file nothing refers to (e.g. its keys expired while every server was down), an hour old.
    const orphanFile = randomUUID();
    writeFileSync(path.join(ctx.dir, orphanFile), 'lost bytes');
    utimesSync(path.join(ctx.dir, orphanFile), anHourAgo(), anHourAgo());
    // A record whose bytes are gone, created an hour ago.
    const orphanRecord = randomUUID();
    const createdAt = Date.now() - 3600_000;
    await ctx.tracker.create({
      id: orphanRecord,
      size: 5,
      chunkSize: 65536,
      metadata: undefined,
      createdAt,
      expiresAt: Date.now() + 3600_000,
    });
    // A file too young to judge: a creation may be under way.
    const youngFile = randomUUID();
    writeFileSync(path.join(ctx.dir, youngFile), '');
    // Not an upload: never touched.
    mkdirSync(path.join(ctx.dir, '.redis'));

    const report = await ctx.sweeper.sweep();
    expect(report).toEqual({ ran: true, expired: 1, orphanFiles: 1, orphanRecords: 1 });

    expect(existsSync(path.join(ctx.dir, expired.id))).toBe(false);
    expect(existsSync(path.join(ctx.dir, orphanFile))).toBe(false);
    expect(await ctx.reader.readRecord(orphanRecord)).toBeUndefined();
    expect(await ctx.reader.readRecord(expired.id)).toBeUndefined();
    for (const kept of [completed.id, live.id, youngFile])
      expect(existsSync(path.join(ctx.dir, kept)), kept).toBe(true);
    expect(existsSync(path.join(ctx.dir, '.redis'))).toBe(true);
    expect((await ctx.reader.readRecord(completed.id))?.status).toBe('completed');
    expect((await ctx.reader.readRecord(live.id))?.status).toBe('uploading');
  });

  it('runs on one instance at a time', async () => {
    // A second instance: same Redis namespace, same upload directory.
    const peer = await createTestContext({ REDIS_KEY_PREFIX: ctx.prefix, UPLOAD_DIR: ctx.dir });
    try {
      const reports = await Promise.all([ctx.sweeper.sweep(), peer.sweeper.sweep()]);
      expect(reports.map((r) => r.ran).sort()).toEqual([false, true]);
    } finally {
      await peer.close();
    }
  });

  it('removes a backlog larger than one batch in one sweep', async () => {
    const agent = request(ctx.app);
    const ids: string[] = [];
    for (let i = 0; i < 450; i++) ids.push((await createUpload(agent, { size: 10 })).id);
    await pastExpiry();
    const report = await ctx.sweeper.sweep();
    expect(report.expired).toBe(450);
    expect(ids.filter((id) => existsSync(path.join(ctx.dir, id)))).toEqual([]);
  });

  it('keeps the keys when the bytes cannot be removed, so a later sweep tries again', async () => {
    const agent = request(ctx.app);
    const { id } = await createUpload(agent, { size: 10 });
    await pastExpiry();
    // The path is now a non-empty directory: unlink fails with EISDIR.
    const file = path.join(ctx.dir, id);
    await import('node:fs/promises').then((fs) => fs.rm(file));
    mkdirSync(file);
    writeFileSync(path.join(file, 'x'), 'x');
    const report = await ctx.sweeper.sweep();
    expect(report.expired).toBe(0);
    expect(await ctx.redis.zscore(ctx.keys.forUpload(id).indexes.expiry, id)).not.toBeNull();
  });
});

describe('the sweeper and requests in progress', () => {
  beforeEach(async () => {
    await ctx.close();
    ctx = await createTestContext({ UPLOAD_TTL_SECONDS: '3600' });
  });

  it('never cuts short a PATCH that is streaming while it sweeps (it does not ask for locks)', async () => {
    const base = await ctx.listen();
    const { openPatch } = await import('../helpers/raw-patch.js');
    const total = 30 * 1024;
    const { path: url, id } = await createUpload(request(base), { size: total });
    const open = openPatch(base, url, 0, total);
    const sending = (async () => {
      for (let sent = 0; sent < total; sent += 1024) {
        await open.write(randomBytes(1024));
        await elapse(120); // a fixed pace, ~3.6 s in all: the PATCH is still streaming when the sweep runs
      }
      open.end();
    })();
    await waitFor(async () => (await ctx.redis.exists(ctx.keys.lock(id))) === 1, { what: 'the PATCH lock' });
    const report = await ctx.sweeper.sweep();
    expect(report.ran).toBe(true);
    await sending;
    const res = await open.response;
    expect(res.status).toBe(204);
    expect(res.headers['upload-offset']).toBe(String(total));
    expect((await ctx.reader.readRecord(id))?.status).toBe('completed');
  }, 15_000);
});
