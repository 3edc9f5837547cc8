import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startSwift } from './swift.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's Swift, through its s3api; `swiftDir` is for startSwiftProxy. */
    s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; swiftDir: string };
  }
}

/**
 * One single-node Swift (S3 API) for the whole run. Tests isolate themselves
 * by bucket name. If it cannot start, the run fails: no test skips for want
 * of S3.
 */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tus-swift-test-'));
  const swift = await startSwift({ dir }).catch((error) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const { endpoint, region, accessKeyId, secretAccessKey } = swift;
  project.provide('s3', { endpoint, region, accessKeyId, secretAccessKey, swiftDir: dir });
  return async () => {
    await swift.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
