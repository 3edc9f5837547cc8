import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { expect, inject } from 'vitest';
import { throttleUploads } from './browser.js';
import { sha256 } from './digest.js';
import { freePort, startServerProcess } from './server-process.js';
import { keysOfUpload } from './upload-keys.js';

/**
 * The demo in Chromium while its server is killed (kill -9) mid-upload and started again on the same address:
 * the card says the server is unreachable and when it retries, shows no stale speed, and the upload resumes by
 * itself once the server is back, to a byte-identical file. `env` picks the byte store; `storedBytes` reads
 * what it holds of an upload. Returns the upload's ID.
 */
export async function demoThroughAnOutage(
  browser: Browser,
  env: Record<string, string>,
  dir: string,
  storedBytes: (id: string) => Promise<Buffer>,
  { size, screenshot }: { size: number; screenshot?: string },
): Promise<string> {
  const prefix = `outage-${randomUUID().slice(0, 8)}:`;
  const settings = {
    ...env,
    PORT: String(await freePort()),
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: prefix,
    PROGRESS_INTERVAL_MS: '100',
  };
  const redis = new Redis(inject('redisUrl'));
  const offsetOf = async (id: string) => Number(await redis.hget(keysOfUpload(prefix, id).upload, 'offset'));
  let server = await startServerProcess(settings);
  const page = await browser.newPage();
  try {
    const data = randomBytes(size);
    const source = path.join(dir, 'field-recording.flac');
    writeFileSync(source, data);
    await throttleUploads(page, 1024 * 1024);
    await page.goto(`${server.url}/demo/`);
    await page.setInputFiles('#file-input', source);
    const card = page.locator('li.upload').first();
    await expect.poll(async () => card.getAttribute('data-id'), { timeout: 15_000 }).toBeTruthy();
    const id = (await card.getAttribute('data-id')) as string;
    await expect.poll(() => offsetOf(id), { timeout: 30_000 }).toBeGreaterThan(0);

    await server.kill('SIGKILL');
    await expect.poll(async () => card.getAttribute('data-status'), { timeout: 15_000 }).toBe('waiting');
    await expect
      .poll(async () => card.locator('.notice-line').textContent(), { timeout: 10_000 })
      .toMatch(/^Server unreachable · retrying (in \d+ s|now)$/);
    // What the server said of its speed before it went away is not shown as if it still held.
    expect(await card.locator('.chunks').textContent()).not.toMatch(/\/s · .* left/);
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

    server = await startServerProcess(settings);
    await throttleUploads(page, -1);
    // No click: it resumes by itself.
    await card.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 60_000 });
    expect(await card.locator('.notice-line').textContent()).toBe('');
    expect(sha256(await storedBytes(id))).toBe(sha256(data));
    expect(await redis.hget(keysOfUpload(prefix, id).upload, 'status')).toBe('completed');
    return id;
  } finally {
    await page.close();
    await server.kill();
    redis.disconnect();
  }
}
