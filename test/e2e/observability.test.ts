import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { openPatch } from '../helpers/raw-patch.js';
import { openEvents } from '../helpers/sse.js';
import { createUpload, patch, TUS } from '../helpers/tus.js';
import { elapse, waitFor } from '../helpers/wait.js';

const contexts: TestContext[] = [];
afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close();
});

/** A pino logger whose lines the test can read. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

/** The value of one Prometheus sample, e.g. `tus_uploads_total{event="created"}`. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('/metrics', () => {
  it('counts exactly what a known sequence of uploads did', async () => {
    const ctx = await createTestContext({ UPLOAD_TTL_SECONDS: '1', COMPLETED_RETENTION_SECONDS: '3600' });
    contexts.push(ctx);
    const agent = request(ctx.app);
    const a = await createUpload(agent, { size: 1000 });
    const b = await createUpload(agent, { size: 500 });
    const c = await createUpload(agent, { size: 300 });
    const d = await createUpload(agent, { size: 200 });
    await patch(agent, a.path, 0, randomBytes(1000));
    await patch(agent, b.path, 0, randomBytes(500));
    await patch(agent, c.path, 0, randomBytes(100));
    await patch(agent, d.path, 0, randomBytes(50));
    await patch(agent, d.path, 0, randomBytes(10)); // 409
    await agent.delete(c.path).set(TUS);
    await elapse(1100); // a fixed time: d's 1 s TTL (the least UPLOAD_TTL_SECONDS takes) must run out
    await ctx.sweeper.sweep(); // d expired: 50 bytes reclaimed

    const res = await agent.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    expect(sample(text, 'tus_uploads_total{event="created"}')).toBe(4);
    expect(sample(text, 'tus_uploads_total{event="completed"}')).toBe(2);
    expect(sample(text, 'tus_uploads_total{event="terminated"}')).toBe(1);
    expect(sample(text, 'tus_uploads_total{event="expired"}')).toBe(1);
    expect(sample(text, 'tus_received_bytes_total')).toBe(1000 + 500 + 100 + 50);
    expect(sample(text, 'tus_http_requests_total{method="POST",status="201"}')).toBe(4);
    expect(sample(text, 'tus_http_requests_total{method="PATCH",status="204"}')).toBe(4);
    expect(sample(text, 'tus_http_requests_total{method="PATCH",status="409"}')).toBe(1);
    expect(sample(text, 'tus_http_requests_total{method="DELETE",status="204"}')).toBe(1);
    expect(sample(text, 'tus_sweeper_runs_total')).toBe(1);
    expect(sample(text, 'tus_sweeper_reclaimed_bytes_total')).toBe(50);
    expect(sample(text, 'tus_patch_duration_seconds_count')).toBe(5);
    expect(sample(text, 'tus_uploads_active')).toBe(0);
    // Each PATCH and the DELETE took the upload's lock; creations take none (nobody can name a new upload yet).
    expect(sample(text, 'tus_lock_wait_seconds_count')).toBe(6);
    expect(text).toMatch(/^tus_redis_command_duration_seconds_count\{command="\w+"\} \d+/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/); // no upload IDs as labels
  });
});

describe('logs', () => {
  it('write one line per request with its ID, the upload, status, bytes and duration', async () => {
    const { logger, lines } = capturedLogger();
    const ctx = await createTestContext({}, inject('redisUrl'), logger);
    contexts.push(ctx);
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 10 });
    const res = await patch(agent, url, 0, randomBytes(10)).set('X-Request-Id', 'client-chosen-42');
    expect(res.headers['x-request-id']).toBe('client-chosen-42');
    const line = lines.find((l) => (l.req as { id?: string })?.id === 'client-chosen-42');
    expect(line).toMatchObject({
      level: 30,
      uploadId: id,
      bytesStored: 10,
      req: { id: 'client-chosen-42', method: 'PATCH', url },
      res: { statusCode: 204 },
    });
    expect(typeof line?.responseTime).toBe('number');
    // Tokens in the query string (EventSource, download links) never reach the log.
    await agent.get(`/api/uploads/${id}/progress?access_token=secret-jwt&x=1`).set('X-Request-Id', 'with-token');
    const withToken = lines.find((l) => (l.req as { id?: string })?.id === 'with-token');
    expect((withToken?.req as { url?: string } | undefined)?.url).toBe(
      `/api/uploads/${id}/progress?access_token=[redacted]&x=1`,
    );
    await agent.get(`/api/uploads/${id}/progress?access%5Ftoken=other-jwt`).set('X-Request-Id', 'encoded');
    expect(JSON.stringify(lines)).not.toContain('secret-jwt');
    expect(JSON.stringify(lines)).not.toContain('other-jwt');
    // A request ID that is not a sane token is replaced, not echoed.
    const odd = await agent.get('/healthz').set('X-Request-Id', 'bad id; with spaces');
    expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('log and count a request the client cut as aborted, an event stream closed at info, and each completion', async () => {
    const { logger, lines } = capturedLogger();
    const ctx = await createTestContext({}, inject('redisUrl'), logger);
    contexts.push(ctx);
    const base = await ctx.listen();
    const agent = request(ctx.app);
    const cut = await createUpload(agent, { size: 100_000 });
    const open = openPatch(base, cut.path, 0, 100_000);
    await open.write(randomBytes(10_000));
    open.reset();
    const msg = (text: string) => (l: Record<string, unknown>) => l.msg === text;
    const cutLine = await waitFor(() => lines.find(msg('PATCH aborted')), { what: 'the line of the cut PATCH' });
    expect(cutLine).toMatchObject({
      level: 40,
      aborted: true,
      uploadId: cut.id,
      req: { method: 'PATCH', url: cut.path },
    });
    expect((cutLine.res as { statusCode?: number }).statusCode).toBeUndefined();

    const stream = openEvents(`${base}/api/uploads/${cut.id}/events`);
    await waitFor(() => stream.status === 200, { what: 'the event stream to open' });
    await stream.close();
    await waitFor(() => lines.find(msg('GET aborted')), { what: 'the line of the closed event stream' });
    expect(lines.find(msg('GET aborted'))).toMatchObject({ level: 30, aborted: true, res: { statusCode: 200 } });

    const metrics = (await agent.get('/metrics')).text;
    expect(sample(metrics, 'tus_http_requests_total{method="PATCH",status="aborted"}')).toBe(1);
    expect(sample(metrics, 'tus_http_requests_total{method="PATCH",status="200"}')).toBeUndefined();
    expect(sample(metrics, 'tus_http_requests_total{method="GET",status="aborted"}')).toBe(1);

    const data = randomBytes(3000);
    const done = await createUpload(agent, { size: data.length });
    expect((await patch(agent, done.path, 0, data)).status).toBe(204);
    const completed = await waitFor(() => lines.find(msg('upload completed')), { what: 'the completion line' });
    expect(completed).toMatchObject({ level: 30, uploadId: done.id, size: data.length, sha256: sha256(data) });
    expect(completed.seconds).toBeGreaterThanOrEqual(0);
    expect(completed.seconds).toBeLessThan(60);
    expect(lines.filter(msg('upload completed'))).toHaveLength(1);
  });

  it('log a 500 with its stack, and answer it without one, under the same request ID', async () => {
    const { logger, lines } = capturedLogger();
    const ctx = await createTestContext({}, inject('redisUrl'), logger);
    contexts.push(ctx);
    const agent = request(ctx.app);
    const { path: url, id } = await createUpload(agent, { size: 10 });
    // The bytes' path is now a non-empty directory: removing them fails in a way nobody planned for.
    await rm(path.join(ctx.dir, id));
    mkdirSync(path.join(ctx.dir, id));
    writeFileSync(path.join(ctx.dir, id, 'x'), 'x');
    const res = await agent.delete(url).set(TUS);
    expect(res.status).toBe(500);
    expect(res.text).toBe('Internal server error\n');
    const requestId = res.headers['x-request-id'];
    expect(requestId).toBeTruthy();
    const ofRequest = (l: Record<string, unknown>) => (l.req as { id?: string })?.id === requestId;
    const error = lines.find((l) => ofRequest(l) && l.msg === 'unexpected error');
    expect((error?.err as { stack?: string })?.stack).toMatch(/EISDIR|EPERM|illegal operation on a directory/);
    expect((error?.err as { stack?: string })?.stack).toMatch(/\n\s+at /);
    const summary = lines.find((l) => ofRequest(l) && (l.res as { statusCode?: number })?.statusCode === 500);
    expect(summary?.level).toBe(50);
  });
});
