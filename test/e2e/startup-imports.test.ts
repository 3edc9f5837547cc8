import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);

/** The modules a server loads to wire its uploads with `env`, and whether its byte store started. */
async function importsWith(env: Record<string, string>): Promise<{ started: string; urls: string[] }> {
  const script = new URL('../helpers/imports-of-wiring.mts', import.meta.url).pathname;
  const dir = mkdtempSync(path.join(inject('tmpRoot'), 'imports-'));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, UPLOAD_DIR: dir, ...env },
    timeout: 30_000,
  });
  return JSON.parse(stdout);
}

const sdk = (urls: string[]) => urls.filter((url) => url.includes('/@aws-sdk/'));

describe('what a server loads for its storage', () => {
  it('STORAGE=file loads none of the S3 code nor the AWS SDK (380 ms to import)', async () => {
    const { started, urls } = await importsWith({ STORAGE: 'file' });
    expect(started).toBe('started');
    expect(urls.some((url) => url.includes('/src/uploads/bytes/file-byte-store.'))).toBe(true);
    expect(sdk(urls)).toEqual([]);
    // Its limits (constants the configuration checks) are all of it a file server reads.
    expect(urls.filter((url) => /\/bytes\/s3\/(s3-(?!limits)|byte-state)/.test(url))).toEqual([]);
  });

  it('STORAGE=s3 loads them when its byte store starts', async () => {
    const { started, urls } = await importsWith({
      STORAGE: 's3',
      S3_BUCKET: 'nowhere',
      S3_ENDPOINT: 'http://127.0.0.1:1',
      S3_FORCE_PATH_STYLE: 'true',
      S3_REQUEST_TIMEOUT_MS: '500',
      CHUNK_SIZE_BYTES: String(5 * 1024 * 1024),
      AWS_ACCESS_KEY_ID: 'none',
      AWS_SECRET_ACCESS_KEY: 'none',
    });
    expect(started).toMatch(/^not started: S3_BUCKET: cannot write to bucket "nowhere"/);
    expect(sdk(urls).length).toBeGreaterThan(0);
    expect(urls.some((url) => url.includes('/src/uploads/bytes/s3/s3-byte-store.'))).toBe(true);
  });
});
