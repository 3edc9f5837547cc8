import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildDemo } from '../../demo/build.mjs';
import { launchChromium } from '../helpers/browser.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { demoThroughAnOutage } from '../helpers/demo-outage.js';
import { sha256 } from '../helpers/digest.js';
import { type S3Storage, s3Storage } from '../helpers/s3-storage.js';

const MiB = 1024 * 1024;
const OUTPUT = path.join(process.cwd(), 'test-output', 'browser');
let storage: S3Storage;
let browser: Browser;
const contexts: TestContext[] = [];
beforeAll(async () => {
  await buildDemo();
  mkdirSync(OUTPUT, { recursive: true });
  storage = await s3Storage();
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  for (const ctx of contexts) await ctx.close();
});

/** What S3 holds under `key`. */
async function objectBytes(key: string): Promise<Buffer> {
  const object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }));
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

describe('the demo on S3 (Chromium, OpenStack Swift s3api)', () => {
  it('uploads with the chunk size the server announces (a part, 5 MiB), to a byte-identical object', async () => {
    const settings = storage.env();
    const ctx = await createTestContext(settings);
    contexts.push(ctx);
    const base = await ctx.listen();
    const limits = (await (await fetch(`${base}/api/limits`)).json()) as { minChunkBytes: number };
    expect(limits.minChunkBytes).toBe(5 * MiB);

    const data = randomBytes(12 * MiB + 321);
    const source = path.join(ctx.dir, 'drone-footage.mp4');
    writeFileSync(source, data);
    const page = await browser.newPage();
    await page.goto(`${base}/demo/`);
    await page.setInputFiles('#file-input', source);
    const card = page.locator('li.upload').first();
    await card.locator('xpath=self::*[@data-status="completed"]').waitFor({ timeout: 60_000 });
    const id = (await card.getAttribute('data-id')) as string;
    expect(await card.locator('.chunks').textContent()).toMatch(/chunks 3\/3 received · 0 failed/);
    await page.screenshot({ path: path.join(OUTPUT, 'uploader-s3-completed.png'), fullPage: true });
    expect(await ctx.reader.readRecord(id)).toMatchObject({
      status: 'completed',
      chunkSize: 5 * MiB,
      sha256: sha256(data),
    });
    expect(sha256(await objectBytes(`${settings.S3_KEY_PREFIX}${id}`))).toBe(sha256(data));
    await page.close();
  }, 90_000);

  it('resumes by itself after its server is killed and started again mid-upload, byte-identical', async () => {
    const settings = storage.env();
    const dir = mkdtempSync(path.join(inject('tmpRoot'), 's3-outage-'));
    await demoThroughAnOutage(browser, settings, dir, (id) => objectBytes(`${settings.S3_KEY_PREFIX}${id}`), {
      size: 11 * MiB,
    });
  }, 120_000);
});
