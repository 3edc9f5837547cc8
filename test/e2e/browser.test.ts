import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemo } from '../../demo/build.mjs';
import {
  focusedId,
  focusedRow,
  launchChromium,
  outlineOf,
  overflowsSideways,
  pixelsOfColour,
  throttleUploads,
  widthOf,
} from '../helpers/browser.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';

const TOKEN = 'a-dashboard-token-for-tests';
/** The throughput chart's fill, rgba(47, 111, 237, 0.15), as the canvas holds it; its lines' colours, opaque. */
const FILL: [number, number, number, number] = [47, 111, 237, 38];
const BLUE: [number, number, number, number] = [47, 111, 237, 255];
const GREEN: [number, number, number, number] = [18, 161, 80, 255];
const OUTPUT = path.join(process.cwd(), 'test-output', 'browser');

let ctx: TestContext;
let base: string;
let browser: Browser;

beforeAll(async () => {
  await buildDemo();
  mkdirSync(OUTPUT, { recursive: true });
  ctx = await createTestContext({ DASHBOARD_TOKEN: TOKEN, PROGRESS_INTERVAL_MS: '100' });
  base = await ctx.listen();
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await ctx?.close();
});

/** A file of `size` random bytes named `name` in the test's folder, for the demo to upload: its bytes and path. */
function fileOf(name: string, size: number): { data: Buffer; source: string } {
  const data = randomBytes(size);
  const source = path.join(ctx.dir, name);
  writeFileSync(source, data);
  return { data, source };
}

/** A new browser page on the demo's upload page. */
async function openDemo(viewport?: { width: number; height: number }): Promise<Page> {
  const page = await browser.newPage(viewport ? { viewport } : {});
  await page.goto(`${base}/demo/`);
  return page;
}

/**
 * Starts uploading `source` in the demo page at `bytesPerSecond`, and waits until the server has stored more
 * than `storedMoreThan` of it: its card and upload ID.
 */
async function uploadSlowly(page: Page, source: string, bytesPerSecond: number, storedMoreThan: number) {
  await throttleUploads(page, bytesPerSecond);
  await page.setInputFiles('#file-input', source);
  const card = page.locator('li.upload').first();
  await expect.poll(async () => card.getAttribute('data-id'), { timeout: 15_000 }).toBeTruthy();
  const id = (await card.getAttribute('data-id')) as string;
  await expect
    .poll(async () => (await ctx.reader.readRecord(id))?.offset ?? 0, { timeout: 20_000 })
    .toBeGreaterThan(storedMoreThan);
  return { card, id };
}

describe('the demo in a real browser (Chromium)', () => {
  it("uploads a file to 100 % by the server's numbers, intact, and the dashboard shows it completed", async () => {
    const { data, source } = fileOf('holiday-photo.jpg', 3 * 1024 * 1024 + 777);
    const page = await openDemo();
    await page.setInputFiles('#file-input', source);
    const card = page.locator('li.upload').first();
    await card.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 30_000 });
    await expect
      .poll(async () => card.locator('.meta').textContent())
      .toMatch(/3\.0 MiB of 3\.0 MiB stored · 100\.0 %/);
    expect(await card.locator('.chunks').textContent()).toMatch(/chunks 13\/13 received · 0 failed/);
    const id = (await card.getAttribute('data-id')) as string;
    await page.waitForTimeout(400); // let the bars' transition finish before the picture
    await page.screenshot({ path: path.join(OUTPUT, 'uploader-desktop-after.png'), fullPage: true });
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    expect(await ctx.reader.readRecord(id)).toMatchObject({
      status: 'completed',
      sha256: sha256(data),
      chunkSize: 262144,
    });
    // Created with an Idempotency-Key (a creation sent again after a 5xx gets this upload back).
    const keys = await ctx.redis.keys(`${ctx.keys.prefix}idempotency:*`);
    const named = await Promise.all(keys.map((key) => ctx.redis.get(key)));
    expect(named).toContain(id);

    const dashboard = await browser.newPage();
    await dashboard.goto(`${base}/demo/dashboard.html?token=${TOKEN}`);
    const row = dashboard.locator(`tr[data-id="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getAttribute('data-status')).toBe('completed');
    expect(await row.locator('td').first().textContent()).toBe('holiday-photo.jpg');
    await expect.poll(async () => dashboard.locator('#state').textContent()).toBe('live');
    await dashboard.screenshot({ path: path.join(OUTPUT, 'dashboard.png'), fullPage: true });
    await page.close();
    await dashboard.close();
  }, 60_000);

  it('pauses (the server stops receiving) and resumes an upload to a byte-identical file', async () => {
    const { data, source } = fileOf('big-video.mp4', 4 * 1024 * 1024);
    const page = await openDemo();
    // About 1 MB/s, so there is time to press Pause.
    const { card, id } = await uploadSlowly(page, source, 1024 * 1024, 0);
    await card.getByRole('button', { name: 'Pause' }).click();
    // The chunk in flight is stored first (cutting it would count a failed chunk), then nothing more is sent.
    await expect.poll(async () => card.locator('.badge').textContent(), { timeout: 10_000 }).toBe('paused');
    await page.waitForTimeout(300);
    const pausedAt = (await ctx.reader.readRecord(id))?.offset ?? 0;
    await page.waitForTimeout(1500);
    expect((await ctx.reader.readRecord(id))?.offset).toBe(pausedAt);
    expect(pausedAt).toBeLessThan(data.length);
    expect(await card.locator('.badge').textContent()).toBe('paused');
    await page.screenshot({ path: path.join(OUTPUT, 'paused.png'), fullPage: true });

    await throttleUploads(page, -1);
    await card.getByRole('button', { name: 'Resume' }).click();
    await card.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 30_000 });
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    // A pause is not a failure: no request was cut, and the card says so.
    expect((await ctx.reader.readRecord(id))?.failedChunks).toBe(0);
    await expect.poll(async () => card.locator('.chunks').textContent()).toMatch(/ · 0 failed/);
    await page.close();
  }, 60_000);

  it('Resume pressed while still pausing goes on with the one transfer: no second stream of PATCHes', async () => {
    const { data, source } = fileOf('second-thoughts.bin', 3 * 1024 * 1024);
    const page = await openDemo();
    const conflicts = async () => {
      const text = (await (await fetch(`${base}/metrics`)).text()).split('\n');
      return text.filter((l) => /^tus_http_requests_total\{method="PATCH",status="(409|423)"\}/.test(l)).length;
    };
    const before = await conflicts();
    const { card, id } = await uploadSlowly(page, source, 512 * 1024, 0);
    await card.getByRole('button', { name: 'Pause' }).click();
    expect(await card.locator('.badge').textContent()).toBe('pausing');
    await card.getByRole('button', { name: 'Resume' }).click();
    expect(await card.locator('.badge').textContent()).toBe('uploading');
    await throttleUploads(page, -1);
    await card.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 30_000 });
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    // One transfer all along: nothing cut, nothing answered "locked" or "offset mismatch".
    expect((await ctx.reader.readRecord(id))?.failedChunks).toBe(0);
    expect(await conflicts()).toBe(before);
    await page.close();
  }, 60_000);

  it("the dashboard draws live charts and one upload's chunk map, at desktop and phone widths (screenshots)", async () => {
    const { data, source } = fileOf('site-survey.mov', 6 * 1024 * 1024);
    const done = [path.join(ctx.dir, 'notes.txt'), path.join(ctx.dir, 'minutes.txt')];
    for (const file of done) writeFileSync(file, randomBytes(10_000));
    const page = await openDemo({ width: 1280, height: 800 });
    // Two uploads completed, one uploading (slowly): lines at different heights on the chart of states, whatever
    // ran before (two series of the same value would draw one line over the other).
    await page.setInputFiles('#file-input', done);
    await expect
      .poll(async () => page.locator('li.upload[data-status="completed"]').count(), { timeout: 20_000 })
      .toBe(2);
    const { card, id } = await uploadSlowly(page, source, 512 * 1024, 1024 * 1024);

    const dashboard = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await dashboard.goto(`${base}/demo/dashboard.html?token=${TOKEN}`);
    const row = dashboard.locator(`tr[data-id="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    // The throughput chart fills the area under its line (a pale blue of its own) only where something was
    // stored: a flat zero fills nothing.
    await expect
      .poll(async () => pixelsOfColour(dashboard, '#chart-rate canvas', FILL, 6), { timeout: 15_000 })
      .toBeGreaterThan(500);
    // Uploads by state: the "uploading" line (blue) and the completed ones of earlier tests (green).
    await expect
      .poll(async () => pixelsOfColour(dashboard, '#chart-states canvas', BLUE), { timeout: 10_000 })
      .toBeGreaterThan(150);
    expect(await pixelsOfColour(dashboard, '#chart-states canvas', GREEN)).toBeGreaterThan(150);

    // Its chunk map: 24 chunks of 256 KiB, some received, the rest still to come; by keyboard as by mouse.
    await row.focus();
    // The table is drawn anew every second; the row keeps the keyboard focus through it.
    await dashboard.waitForTimeout(1500);
    expect(await focusedRow(dashboard)).toBe(id);
    await dashboard.keyboard.press('Enter');
    const map = dashboard.locator('#detail .chunk-map');
    await map.waitFor({ timeout: 10_000 });
    expect(await map.locator('.cell').count()).toBe(24);
    expect(await map.locator('.cell.got').count()).toBeGreaterThanOrEqual(4);
    expect(await map.locator('.cell.missing').count()).toBeGreaterThanOrEqual(1);
    expect(await map.getAttribute('aria-label')).toMatch(/^\d+ of 24 chunks received$/);
    expect(await dashboard.locator('#detail').textContent()).toMatch(
      /site-survey\.mov.*uploading.*chunks of 256\.0 KiB/s,
    );
    await dashboard.screenshot({ path: path.join(OUTPUT, 'dashboard-desktop-uploading.png'), fullPage: true });
    await page.screenshot({ path: path.join(OUTPUT, 'uploader-desktop-uploading.png'), fullPage: true });

    // A phone (390 px): nothing wider than the screen, the charts as wide as it allows.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await overflowsSideways(page)).toBe(false);
    await page.screenshot({ path: path.join(OUTPUT, 'uploader-phone-uploading.png'), fullPage: true });
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.goto(`${base}/demo/dashboard.html?token=${TOKEN}`);
    await phone.locator(`tr[data-id="${id}"]`).waitFor({ timeout: 10_000 });
    expect(await overflowsSideways(phone)).toBe(false);
    const chartWidth = await widthOf(phone, '#chart-rate canvas');
    expect(chartWidth).toBeGreaterThan(250);
    expect(chartWidth).toBeLessThanOrEqual(390);
    await expect
      .poll(async () => pixelsOfColour(phone, '#chart-rate canvas', FILL, 6), { timeout: 15_000 })
      .toBeGreaterThan(200);
    await phone.screenshot({ path: path.join(OUTPUT, 'dashboard-phone-uploading.png'), fullPage: true });

    // After: every chunk received in the open map, which followed the live events.
    await throttleUploads(page, -1);
    await card.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 30_000 });
    await expect.poll(async () => map.locator('.cell.got').count(), { timeout: 10_000 }).toBe(24);
    await dashboard.screenshot({ path: path.join(OUTPUT, 'dashboard-desktop-after.png'), fullPage: true });
    await page.screenshot({ path: path.join(OUTPUT, 'uploader-phone-after.png'), fullPage: true });
    await phone.screenshot({ path: path.join(OUTPUT, 'dashboard-phone-after.png'), fullPage: true });
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    await Promise.all([page.close(), dashboard.close(), phone.close()]);
  }, 90_000);

  it('can be used from the keyboard: Tab reaches the file picker, Space opens it', async () => {
    const { data, source } = fileOf('keyboard.txt', 100_000);
    const page = await openDemo();
    let tabs = 0;
    while ((await focusedId(page)) !== 'file-input' && tabs < 6) {
      await page.keyboard.press('Tab');
      tabs++;
    }
    expect(await focusedId(page)).toBe('file-input');
    // Its box shows where the focus is.
    expect(await outlineOf(page, 'drop')).toBe('solid');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
    await chooser.setFiles(source);
    const card = page.locator('li.upload').first();
    await card.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 20_000 });
    const id = (await card.getAttribute('data-id')) as string;
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    await page.close();
  }, 60_000);

  it('asks before deleting a completed upload from the server', async () => {
    const { source } = fileOf('contract.pdf', 50_000);
    const page = await openDemo();
    await page.setInputFiles('#file-input', source);
    const card = page.locator('li.upload').first();
    await card.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 20_000 });
    const id = (await card.getAttribute('data-id')) as string;
    await card.getByRole('button', { name: 'Remove' }).click();
    expect(await card.locator('.notice-line').textContent()).toMatch(/Delete contract\.pdf from the server\?/);
    await card.getByRole('button', { name: 'Keep it' }).click();
    expect(await ctx.reader.readRecord(id)).toMatchObject({ status: 'completed' });
    expect(await page.locator('li.upload').count()).toBeGreaterThanOrEqual(1);

    await card.getByRole('button', { name: 'Remove' }).click();
    await card.getByRole('button', { name: 'Delete from the server' }).click();
    await expect.poll(async () => page.locator(`li.upload[data-id="${id}"]`).count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(async () => ctx.reader.readRecord(id), { timeout: 10_000 }).toBeUndefined();
    await page.close();
  }, 60_000);

  it('after a reload, names the unfinished upload, and picking the file again resumes it', async () => {
    const { data, source } = fileOf('interview.wav', 3 * 1024 * 1024);
    const page = await openDemo();
    const { id } = await uploadSlowly(page, source, 512 * 1024, 512 * 1024);
    await page.reload();
    const earlier = page.locator('#earlier');
    await earlier.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await earlier.textContent()).toMatch(/interview\.wav: .* of 3\.0 MiB stored.*Pick the same file again/s);
    await page.screenshot({ path: path.join(OUTPUT, 'uploader-after-reload.png'), fullPage: true });
    const before = (await ctx.reader.readRecord(id))?.offset ?? 0;
    expect(before).toBeGreaterThan(0);
    await throttleUploads(page, -1);
    await page.setInputFiles('#file-input', source);
    const resumed = page.locator('li.upload').first();
    await resumed.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 30_000 });
    // The same upload, resumed where it stopped: not a new one from zero.
    expect(await resumed.getAttribute('data-id')).toBe(id);
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    await page.close();
  }, 60_000);
});
