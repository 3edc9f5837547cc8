import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Upload, type UploadOptions } from 'tus-js-client';
import { inject } from 'vitest';
import type { ServerProcess } from './server-process.js';

/**
 * Settings of instances that share Redis and an object store (`store`: its
 * settings), each with an UPLOAD_DIR of its own: no shared disk.
 */
export function sharedEnv(
  store: Record<string, string>,
  extra: Record<string, string> = {},
): () => Record<string, string> {
  const common: Record<string, string> = {
    ...store,
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `test-${randomUUID()}:`,
    LOCK_TTL_MS: '1500',
    ...extra,
  };
  return () => ({ ...common, UPLOAD_DIR: mkdtempSync(path.join(inject('tmpRoot'), 'instance-')) });
}

/** A tus HEAD of `pathname` on `server`: its status and Upload-Offset. */
export async function offsetOn(server: ServerProcess, pathname: string): Promise<{ status: number; offset: number }> {
  const res = await fetch(`${server.url}${pathname}`, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
  return { status: res.status, offset: Number(res.headers.get('upload-offset')) };
}

/** A tus PATCH of `body` at `offset`, sent whole; its status once the reply has been read. */
export async function patchOn(server: ServerProcess, pathname: string, offset: number, body: Buffer): Promise<number> {
  return (await timedPatch(server, pathname, offset, body)).res.status;
}

/**
 * The server (src/main.ts, or another `script`) with `env` added to this process's environment,
 * run until it exits: its exit code and output. One that does not exit
 * within `timeoutMs` (it started when it should not have) is killed: its code
 * is then null.
 */
export function runUntilExit(
  env: Record<string, string>,
  timeoutMs = 20_000,
  script = 'src/main.ts',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'node',
      ['--import', 'tsx', script],
      { env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      () => {},
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A tus-js-client upload of `data`, resolved with the client once it succeeds. */
export function tusUpload(data: Buffer, options: UploadOptions): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const upload: Upload = new Upload(data, { ...options, onSuccess: () => resolve(upload), onError: reject });
    upload.start();
  });
}

/** A PATCH on `server`, its answer read to the end: the response, and how long it took (ms). */
export async function timedPatch(server: ServerProcess, pathname: string, offset: number, body: Buffer) {
  const started = Date.now();
  const res = await fetch(`${server.url}${pathname}`, {
    method: 'PATCH',
    headers: {
      'Tus-Resumable': '1.0.0',
      'Upload-Offset': String(offset),
      'Content-Type': 'application/offset+octet-stream',
    },
    body,
  });
  await res.arrayBuffer();
  return { res, took: Date.now() - started };
}
