import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemo } from '../../demo/build.mjs';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';

const TOKEN = 'a-dashboard-token-for-tests';
const OUTPUT = path.join(process.cwd(), 'test-output', 'browser');

let ctx: TestContext;
let base: string;
let browser: Browser;

beforeAll(async () => {
  await buildDemo();
  mkdirSync(OUTPUT, { recursive: true });
  ctx = await createTestContext({ DASHBOARD_TOKEN: TOKEN, PROGRESS_INTERVAL_MS: '100' });
  base = await ctx.listen();
  // Debian's Chromium (installed by .ci/run), driven by playwright-core: no browser download.
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await ctx?.close();
});

describe('the demo in a real browser (Chromium)', () => {
  it("uploads a file to 100 % by the server's numbers, intact, and the dashboard shows it completed", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 777);
    const source = path.join(ctx.dir, 'holiday-photo.jpg');
    writeFileSync(source, data);

    const page = await browser.newPage();
    await page.goto(`${base}/demo/`);
    await page.setInputFiles('#file-input', source);
    const card = page.locator('li.upload').first();
    await card.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 30_000 });
    await expect
      .poll(async () => card.locator('.meta').textContent())
      .toMatch(/3\.0 MiB of 3\.0 MiB stored · 100\.0 %/);
    expect(await card.locator('.chunks').textContent()).toMatch(/chunks 13\/13 received · 0 failed/);
    const id = (await card.getAttribute('data-id')) as string;
    await page.waitForTimeout(400); // let the bars' transition finish before the picture
    await page.screenshot({ path: path.join(OUTPUT, 'uploader.png'), fullPage: true });
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    expect(await ctx.reader.readRecord(id)).toMatchObject({
      status: 'completed',
      sha256: sha256(data),
      chunkSize: 262144,
    });

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
    const data = randomBytes(4 * 1024 * 1024);
    const source = path.join(ctx.dir, 'big-video.mp4');
    writeFileSync(source, data);
    const page = await browser.newPage();
    // About 1 MB/s, so there is time to press Pause.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 5,
      downloadThroughput: -1,
      uploadThroughput: 1024 * 1024,
    });
    await page.goto(`${base}/demo/`);
    await page.setInputFiles('#file-input', source);
    const card = page.locator('li.upload').first();
    await expect.poll(async () => card.getAttribute('data-id'), { timeout: 15_000 }).toBeTruthy();
    const id = (await card.getAttribute('data-id')) as string;
    await expect
      .poll(async () => (await ctx.reader.readRecord(id))?.offset ?? 0, { timeout: 15_000 })
      .toBeGreaterThan(0);
    await card.getByRole('button', { name: 'Pause' }).click();
    await page.waitForTimeout(1500);
    const pausedAt = (await ctx.reader.readRecord(id))?.offset ?? 0;
    await page.waitForTimeout(1500);
    expect((await ctx.reader.readRecord(id))?.offset).toBe(pausedAt);
    expect(pausedAt).toBeLessThan(data.length);
    expect(await card.locator('.badge').textContent()).toBe('paused');
    await page.screenshot({ path: path.join(OUTPUT, 'paused.png'), fullPage: true });

    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await card.getByRole('button', { name: 'Resume' }).click();
    await card.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 30_000 });
    expect(sha256(await readFile(path.join(ctx.dir, id)))).toBe(sha256(data));
    await page.close();
  }, 60_000);
});
