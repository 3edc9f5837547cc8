import { mkdirSync, mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { buildDemo } from '../../demo/build.mjs';
import { launchChromium } from '../helpers/browser.js';
import { demoThroughAnOutage } from '../helpers/demo-outage.js';

const OUTPUT = path.join(process.cwd(), 'test-output', 'browser');
let browser: Browser;
beforeAll(async () => {
  await buildDemo();
  mkdirSync(OUTPUT, { recursive: true });
  browser = await launchChromium();
}, 60_000);
afterAll(() => browser?.close());

describe('the demo through a server outage (Chromium, bytes on disk)', () => {
  it('says the server is unreachable and when it retries, then resumes by itself once it is back, byte-identical', async () => {
    const dir = mkdtempSync(path.join(inject('tmpRoot'), 'outage-'));
    await demoThroughAnOutage(
      browser,
      { UPLOAD_DIR: path.join(dir, 'uploads') },
      dir,
      (id) => readFile(path.join(dir, 'uploads', id)),
      { size: 4 * 1024 * 1024, screenshot: path.join(OUTPUT, 'uploader-server-away.png') },
    );
  }, 120_000);
});
