import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { duplicateOf } from '../../src/redis/client.js';
import { startRedisServer } from '../../src/redis/local-server.js';
import type { NewUpload } from '../../src/uploads/model/upload-record.js';
import { createUploadsContext, type UploadsContext } from '../helpers/uploads.js';
import { elapse, waitFor } from '../helpers/wait.js';

const contexts: UploadsContext[] = [];
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close();
  for (const stop of stops.splice(0)) await stop();
});

async function context(env: Record<string, string> = {}, redisUrl?: string) {
  const ctx = await createUploadsContext(env, redisUrl);
  contexts.push(ctx);
  return ctx;
}

function upload(size: number | undefined, extra: Partial<NewUpload> = {}): NewUpload {
  const now = Date.now();
  return {
    id: randomUUID(),
    size,
    chunkSize: 64 * 1024,
    metadata: {},
    createdAt: now,
    expiresAt: now + 60_000,
    ...extra,
  };
}

const ownerSlots = (ctx: UploadsContext, owner: string) => ctx.redis.zrange(ctx.keys.ownerActive(owner), 0, -1);

/** Writes `data` to a new upload through the writer (as a PATCH would) until it completes. */
async function completed(ctx: UploadsContext, data: Buffer, extra: Partial<NewUpload> = {}) {
  const created = await ctx.lifecycle.create(upload(data.length, extra));
  const source = { source: Readable.from([data]), room: data.length };
  await ctx.writer.write(created.id, 0, { source, chunkSize: created.chunkSize });
  return created.id;
}

describe('upload lifecycle (real Redis, real disk, no HTTP)', () => {
  describe('create', () => {
    it('writes the record, the bytes, the group and the owner slot, then says created', async () => {
      const ctx = await context();
      const u = upload(10, { owner: 'alice', group: 'g1' });
      const record = await ctx.lifecycle.create(u, 5);
      expect(record).toMatchObject({ id: u.id, status: 'uploading', size: 10, totalChunks: 1, receivedChunks: 0 });
      expect(await ctx.reader.readRecord(u.id)).toMatchObject({ id: u.id, owner: 'alice', group: 'g1' });
      expect(await ctx.bytes.bytesStored(u.id)).toBe(0);
      expect(await ctx.reader.groupMembers('g1', 'alice')).toEqual([u.id]);
      expect(await ownerSlots(ctx, 'alice')).toEqual([u.id]);
      expect(ctx.eventsOf(u.id)).toEqual(['created']);
    });

    it('undoes every step in reverse when the bytes cannot be created: no record, no slot, no event', async () => {
      const ctx = await context();
      const u = upload(10, { owner: 'alice' });
      // A directory where the upload's file would go: the byte store cannot create it.
      mkdirSync(path.join(ctx.dir, u.id));
      await expect(ctx.lifecycle.create(u, 5)).rejects.toThrow();
      expect(await ctx.reader.readRecord(u.id)).toBeUndefined();
      expect(await ownerSlots(ctx, 'alice')).toEqual([]);
      expect(ctx.eventsOf(u.id)).toEqual([]);
    });

    it('refuses an owner at their limit before anything is created', async () => {
      const ctx = await context();
      await ctx.lifecycle.create(upload(10, { owner: 'bob' }), 1);
      const second = upload(10, { owner: 'bob' });
      await expect(ctx.lifecycle.create(second, 1)).rejects.toMatchObject({ code: 'TOO_MANY_UPLOADS', status: 429 });
      expect(await ctx.reader.readRecord(second.id)).toBeUndefined();
      expect(existsSync(path.join(ctx.dir, second.id))).toBe(false);
      expect(ctx.eventsOf(second.id)).toEqual([]);
    });
  });

  describe('finish', () => {
    it('completes with the SHA-256 of the bytes, then says completed', async () => {
      const ctx = await context();
      const data = randomBytes(200_000);
      const id = await completed(ctx, data);
      const record = await ctx.reader.readRecord(id);
      expect(record).toMatchObject({ status: 'completed', offset: data.length, receivedChunks: 4, totalChunks: 4 });
      expect(record?.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      expect(ctx.eventsOf(id)).toEqual(['created', 'completed']);
    });

    it('fails with the reason when the digest cannot be computed: failed, and a 500 for the caller', async () => {
      const ctx = await context();
      const created = await ctx.lifecycle.create(upload(5, { status: 'assembling' }));
      await expect(
        ctx.lifecycle.finish(created.id, 'finalization', async () => {
          throw new Error('the disk went away');
        }),
      ).rejects.toMatchObject({ code: 'UPLOAD_FINALIZATION_FAILED', status: 500 });
      expect(await ctx.reader.readRecord(created.id)).toMatchObject({
        status: 'failed',
        error: 'finalization failed: the disk went away',
      });
      expect(ctx.eventsOf(created.id)).toEqual(['created', 'failed']);
    });

    it('answers 503, never 500, and never marks the upload failed, when Redis is unavailable', async () => {
      const root = mkdtempSync(path.join(inject('tmpRoot'), 'lifecycle-redis-'));
      const server = await startRedisServer({ dir: root });
      stops.push(() => server.stop());
      const ctx = await context({ REDIS_COMMAND_TIMEOUT_MS: '200' }, server.url);
      const created = await ctx.lifecycle.create(upload(5, { status: 'assembling' }));
      const admin = duplicateOf(ctx.redis);
      await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
      admin.disconnect();
      await expect(ctx.lifecycle.finish(created.id, 'finalization', async () => 'ab'.repeat(32))).rejects.toMatchObject(
        { code: 'STATE_STORE_UNAVAILABLE', status: 503 },
      );
      await elapse(1600); // fixed: the pause must be over, and a write that timed out may still run in it
      // The write that timed out may still run once Redis is back: completed or assembling, never failed.
      expect(['assembling', 'completed']).toContain((await ctx.reader.readRecord(created.id))?.status);
      expect(ctx.eventsOf(created.id)).toEqual(['created']);
    });
  });

  describe('remove', () => {
    it('terminated: bytes, record, index entries and slot go, then says terminated with the record it was', async () => {
      const ctx = await context();
      const created = await ctx.lifecycle.create(upload(10, { owner: 'carol' }), 5);
      const removal = await ctx.lifecycle.remove(created.id, 'terminated');
      expect(removal).toMatchObject({ hadBytes: true, hadRecord: true });
      expect(existsSync(path.join(ctx.dir, created.id))).toBe(false);
      expect(await ctx.reader.readRecord(created.id)).toBeUndefined();
      expect(await ctx.redis.zscore(ctx.keys.forUpload(created.id).indexes.recent, created.id)).toBeNull();
      expect(await ownerSlots(ctx, 'carol')).toEqual([]);
      const event = ctx.events.find((e) => e.type === 'terminated');
      expect(event).toMatchObject({ type: 'terminated', id: created.id, record: { owner: 'carol' } });
    });

    it("expired: frees its owner's slot and says expired with the bytes it removed", async () => {
      const ctx = await context();
      const created = await ctx.lifecycle.create(upload(100_000, { owner: 'dave' }), 5);
      const source = { source: Readable.from([randomBytes(70_000)]), room: 100_000 };
      await ctx.writer.write(created.id, 0, { source, chunkSize: created.chunkSize });
      await ctx.lifecycle.remove(created.id, 'expired');
      expect(await ownerSlots(ctx, 'dave')).toEqual([]);
      expect(ctx.events.find((e) => e.type === 'expired')).toMatchObject({ id: created.id, bytes: 70_000 });
    });

    it('lost: an unfinished upload whose bytes vanished says failed; a completed one says nothing', async () => {
      const ctx = await context();
      const unfinished = await ctx.lifecycle.create(upload(10));
      await ctx.bytes.remove(unfinished.id);
      await ctx.lifecycle.remove(unfinished.id, 'lost');
      expect(ctx.eventsOf(unfinished.id)).toEqual(['created', 'failed']);
      expect(await ctx.reader.readRecord(unfinished.id)).toBeUndefined();

      const done = await completed(ctx, randomBytes(10));
      await ctx.bytes.remove(done);
      await ctx.lifecycle.remove(done, 'lost');
      expect(ctx.eventsOf(done)).toEqual(['created', 'completed']);
      expect(await ctx.reader.readRecord(done)).toBeUndefined();
    });

    it('merged: a partial joined into a final leaves no trace and says nothing more', async () => {
      const ctx = await context();
      const id = await completed(ctx, randomBytes(10), { uploadConcat: 'partial', owner: 'erin' });
      await ctx.lifecycle.remove(id, 'merged');
      expect(await ctx.reader.readRecord(id)).toBeUndefined();
      expect(existsSync(path.join(ctx.dir, id))).toBe(false);
      expect(ctx.eventsOf(id)).toEqual(['created', 'completed']);
    });
  });

  describe('concatenation through the lifecycle', () => {
    async function partials(ctx: UploadsContext, sizes: number[]) {
      const datas = sizes.map((n) => randomBytes(n));
      const ids = [];
      for (const data of datas) ids.push(await completed(ctx, data, { uploadConcat: 'partial' }));
      return { ids, whole: Buffer.concat(datas) };
    }

    it('assembles the final, completes it with its SHA-256 and removes the partials (merged: no event)', async () => {
      const ctx = await context();
      const { ids, whole } = await partials(ctx, [100_000, 50_000]);
      const { id } = await ctx.concatenation.concatenate({ partials: ids, uploadConcat: 'final;x', metadata: {} });
      expect(await ctx.reader.readRecord(id)).toMatchObject({
        status: 'completed',
        size: whole.length,
        sha256: createHash('sha256').update(whole).digest('hex'),
      });
      expect(ctx.eventsOf(id)).toEqual(['created', 'completed']);
      for (const partial of ids) expect(ctx.eventsOf(partial)).toEqual(['created', 'completed']);
    });

    it('rolls the final back when its bytes cannot be created', async () => {
      const ctx = await context();
      const { ids } = await partials(ctx, [10]);
      // Every new file fails: the upload directory is gone and a file stands in its place.
      const { rmSync, writeFileSync } = await import('node:fs');
      rmSync(ctx.dir, { recursive: true, force: true });
      writeFileSync(ctx.dir, 'not a directory');
      await expect(
        ctx.concatenation.concatenate({ partials: ids, uploadConcat: 'final;x', metadata: {} }),
      ).rejects.toThrow();
      const finals = ctx.events.filter((e) => e.type === 'created' && 'id' in e && !ids.includes(e.id));
      expect(finals).toEqual([]);
      const records = (await ctx.redis.keys(`${ctx.keys.prefix}upload:*`)).filter((k) => !k.endsWith('received'));
      expect(records).toHaveLength(ids.length);
    });

    it('answers 503 when Redis becomes unavailable in the middle of the copy, never 500', async () => {
      const root = mkdtempSync(path.join(inject('tmpRoot'), 'concat-redis-'));
      const server = await startRedisServer({ dir: root });
      stops.push(() => server.stop());
      const ctx = await context({ REDIS_COMMAND_TIMEOUT_MS: '300', CHUNK_SIZE_BYTES: String(64 * 1024) }, server.url);
      const { ids } = await partials(ctx, [8 * 1024 * 1024]);
      const assembly = ctx.concatenation.concatenate({ partials: ids, uploadConcat: 'final;x', metadata: {} });
      assembly.catch(() => {});
      const admin = duplicateOf(ctx.redis);
      // As soon as the final has recorded some progress, Redis stops taking writes.
      await waitFor(
        async () => {
          const finals = (await ctx.redis.keys(`${ctx.keys.prefix}upload:*`)).filter(
            (k) => !k.endsWith('received') && !ids.some((p) => k.includes(p)),
          );
          return finals[0] !== undefined && Number(await ctx.redis.hget(finals[0], 'offset')) > 0;
        },
        { intervalMs: 5, what: 'the final upload to record its first copied chunk' },
      );
      await admin.call('CLIENT', 'PAUSE', '2000', 'WRITE');
      admin.disconnect();
      await expect(assembly).rejects.toMatchObject({ status: 503 });
    });
  });
});
