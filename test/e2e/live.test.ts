import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { openPatch } from '../helpers/raw-patch.js';
import { openEvents } from '../helpers/sse.js';
import { createUpload, patch, TUS } from '../helpers/tus.js';
import { elapse, waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;
const TOKEN = 'a-dashboard-token-for-tests';
const auth = { Authorization: `Bearer ${TOKEN}` };

let ctx: TestContext;
let base: string;
beforeEach(async () => {
  ctx = await createTestContext({
    CHUNK_SIZE_BYTES: String(CHUNK),
    DASHBOARD_TOKEN: TOKEN,
    PROGRESS_INTERVAL_MS: '100',
  });
  base = await ctx.listen();
});
afterEach(() => ctx.close());

describe('GET /api/uploads', () => {
  it('pages through uploads, newest activity first, with the columns a person watching wants', async () => {
    const agent = request(base);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { id } = await createUpload(agent, {
        size: 1000,
        metadata: { filename: `f${i}.txt`, filetype: 'text/plain' },
      });
      ids.push(id);
      await elapse(3); // a fixed time: each upload its own activity time, so that the order is defined
    }
    // Activity on the oldest moves it to the top.
    const oldest = ids[0] as string;
    await patch(agent, `/files/${oldest}`, 0, randomBytes(400));
    const first = await agent.get('/api/uploads?limit=3').set(auth);
    expect(first.status).toBe(200);
    expect(first.body.uploads.map((u: { id: string }) => u.id)).toEqual([oldest, ids[6], ids[5]]);
    expect(first.body.uploads[0]).toMatchObject({
      id: oldest,
      filename: 'f0.txt',
      filetype: 'text/plain',
      status: 'uploading',
      size: 1000,
      offset: 400,
      percent: 40,
      totalChunks: 1,
      receivedChunks: 0,
      failedChunks: 0,
    });
    expect(first.body.uploads[0]).toHaveProperty('speedBytesPerSecond');
    expect(first.body.uploads[0]).toHaveProperty('etaSeconds');
    const seen = [...first.body.uploads];
    let next = first.body.next;
    while (next) {
      const page = await agent.get(`/api/uploads?limit=3&cursor=${next}`).set(auth);
      seen.push(...page.body.uploads);
      next = page.body.next;
    }
    expect(seen.map((u: { id: string }) => u.id).sort()).toEqual([...ids].sort());
  });

  it('filters by status', async () => {
    const agent = request(base);
    const done = await createUpload(agent, { size: 10 });
    await patch(agent, done.path, 0, randomBytes(10));
    const open = await createUpload(agent, { size: 10 });
    const completed = await agent.get('/api/uploads?status=completed').set(auth);
    expect(completed.body.uploads.map((u: { id: string }) => u.id)).toEqual([done.id]);
    const uploading = await agent.get('/api/uploads?status=uploading').set(auth);
    expect(uploading.body.uploads.map((u: { id: string }) => u.id)).toEqual([open.id]);
    expect((await agent.get('/api/uploads?status=bogus').set(auth)).status).toBe(400);
    expect((await agent.get('/api/uploads?limit=0').set(auth)).status).toBe(400);
  });

  it('shows speed and ETA while bytes arrive', async () => {
    const { path: url, id } = await createUpload(request(base), { size: 40 * CHUNK });
    const open = openPatch(base, url, 0, 40 * CHUNK);
    for (let i = 0; i < 12; i++) {
      await open.write(randomBytes(CHUNK));
      await elapse(120); // a fixed time: the client's pace is what the speed is measured from
    }
    const row = (await request(base).get('/api/uploads').set(auth)).body.uploads.find(
      (u: { id: string }) => u.id === id,
    );
    open.reset();
    expect(row.speedBytesPerSecond).toBeGreaterThan(100_000);
    expect(row.speedBytesPerSecond).toBeLessThan(5_000_000);
    expect(row.etaSeconds).toBeGreaterThan(0);
  });
});

describe('access', () => {
  it('refuses the list and the all-uploads stream without the token (401) and leaves per-upload reads open', async () => {
    const agent = request(base);
    const { id } = await createUpload(agent, { size: 10 });
    const none = await agent.get('/api/uploads');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await agent.get('/api/uploads').set('Authorization', 'Bearer wrong-token-wrong-token-')).status).toBe(401);
    expect((await agent.get(`/api/uploads?token=${TOKEN}`)).status).toBe(200);
    const stream = openEvents(`${base}/api/uploads/events`);
    await waitFor(() => stream.status, { what: 'the all-uploads stream to be answered' });
    expect(stream.status).toBe(401);
    await stream.close();
    expect((await agent.get(`/api/uploads/${id}/progress`)).status).toBe(200);
    const one = openEvents(`${base}/api/uploads/${id}/events`);
    await one.waitFor((e) => e.event === 'snapshot');
    await one.close();
  });

  it('turns the list and the all-uploads stream off (404) when no token is configured', async () => {
    const off = await createTestContext({});
    try {
      const res = await request(off.app).get('/api/uploads');
      expect(res.status).toBe(404);
      expect(res.body.error.message).toMatch(/DASHBOARD_TOKEN/);
      expect((await request(off.app).get('/api/uploads/events')).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe('live updates (Server-Sent Events)', () => {
  it('streams one upload: its state, its progress while one PATCH streams, and its completion', async () => {
    const { path: url, id } = await createUpload(request(base), { size: 8 * CHUNK });
    const events = openEvents(`${base}/api/uploads/${id}/events`);
    const snapshot = await events.waitFor((e) => e.event === 'snapshot');
    expect(snapshot.data).toMatchObject({ id, upload: { status: 'uploading', offset: 0 } });
    const open = openPatch(base, url, 0, 8 * CHUNK);
    await open.write(randomBytes(3 * CHUNK));
    const progress = await events.waitFor(
      (e) => e.event === 'progress' && (e.data as { upload: { receivedChunks: number } }).upload.receivedChunks >= 3,
    );
    expect(progress.data).toMatchObject({ type: 'progress', id, upload: { status: 'uploading' } });
    await open.write(randomBytes(5 * CHUNK));
    open.end();
    await open.response;
    const completed = await events.waitFor((e) => e.event === 'completed');
    expect(completed.data).toMatchObject({ id, upload: { status: 'completed', percent: 100 } });
    // No more than a few progress events per second for one upload.
    const progressCount = events.events.filter((e) => e.event === 'progress').length;
    expect(progressCount).toBeLessThan(20);
    await events.close();
  });

  it('skips the snapshot on a reconnection whose Last-Event-ID is current', async () => {
    const { id } = await createUpload(request(base), { size: 10 });
    const first = openEvents(`${base}/api/uploads/${id}/events`);
    const snapshot = await first.waitFor((e) => e.event === 'snapshot');
    await first.close();
    const again = openEvents(`${base}/api/uploads/${id}/events`, { 'Last-Event-ID': snapshot.id });
    await waitFor(() => again.status, { what: 'the reconnection to be answered' });
    await elapse(300); // a fixed time: no snapshot may come in it
    expect(again.events.filter((e) => e.event === 'snapshot')).toHaveLength(0);
    await patch(request(base), `/files/${id}`, 0, randomBytes(10));
    await again.waitFor((e) => e.event === 'completed');
    await again.close();
  });

  it('streams every upload with the token, starting with a snapshot, including terminations', async () => {
    const stream = openEvents(`${base}/api/uploads/events`, auth);
    await stream.waitFor((e) => e.event === 'snapshot');
    const { path: url, id } = await createUpload(request(base), { size: 10, metadata: { filename: 'x.bin' } });
    await stream.waitFor((e) => e.event === 'created' && (e.data as { id: string }).id === id);
    await request(base).delete(url).set(TUS);
    const gone = await stream.waitFor((e) => e.event === 'terminated');
    expect(gone.data).toMatchObject({ id, upload: null });
    await stream.close();
  });

  it('shows on instance A the progress of a PATCH that instance B receives', async () => {
    const other = await createTestContext({
      CHUNK_SIZE_BYTES: String(CHUNK),
      REDIS_KEY_PREFIX: ctx.prefix,
      UPLOAD_DIR: ctx.dir,
      DASHBOARD_TOKEN: TOKEN,
      PROGRESS_INTERVAL_MS: '100',
    });
    try {
      const otherBase = await other.listen();
      const { path: url, id } = await createUpload(request(otherBase), { size: 6 * CHUNK });
      const onA = openEvents(`${base}/api/uploads/${id}/events`);
      const allOnA = openEvents(`${base}/api/uploads/events`, auth);
      await onA.waitFor((e) => e.event === 'snapshot');
      const open = openPatch(otherBase, url, 0, 6 * CHUNK);
      await open.write(randomBytes(2 * CHUNK));
      await onA.waitFor(
        (e) => e.event === 'progress' && (e.data as { upload: { offset: number } }).upload.offset >= 2 * CHUNK,
      );
      await open.write(randomBytes(4 * CHUNK));
      open.end();
      await onA.waitFor((e) => e.event === 'completed');
      await allOnA.waitFor((e) => e.event === 'completed' && (e.data as { id: string }).id === id);
      await onA.close();
      await allOnA.close();
    } finally {
      await other.close();
    }
  });

  it('answers 404 for an unknown upload and 400 for a malformed ID', async () => {
    expect((await request(base).get(`/api/uploads/${randomUUID()}/events`)).status).toBe(404);
    expect((await request(base).get('/api/uploads/nope/events')).status).toBe(400);
  });
});
