import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Upload, type UploadOptions } from 'tus-js-client';
import { describe, expect, it } from 'vitest';
import { appPerTest } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { elapse } from '../helpers/wait.js';

const CHUNK = 64 * 1024;

const app = appPerTest({ CHUNK_SIZE_BYTES: String(CHUNK) });

type GroupProgress = {
  status: string;
  receivedChunks: number;
  totalChunks: number | null;
  parts: Array<{ id: string; status: string; receivedChunks?: number; missingRanges?: Array<[number, number]> }>;
  final: { id: string; status: string; sha256?: string } | null;
};

/** Polls the group's progress while an upload runs, keeping every answer. */
function watchGroup(group: string) {
  const seen: GroupProgress[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const res = await fetch(`${app.base}/api/groups/${group}/progress`);
      if (res.ok) seen.push((await res.json()) as GroupProgress);
      await elapse(20); // how often it samples, while the upload runs; not a wait for anything
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

function parallelUpload(data: Buffer, group: string, extra: Partial<UploadOptions> = {}): Upload {
  return new Upload(data, {
    endpoint: `${app.base}/files`,
    parallelUploads: 4,
    chunkSize: 256 * 1024,
    metadata: { filename: 'big.bin' },
    metadataForPartialUploads: { group },
    retryDelays: [50, 100, 200],
    ...extra,
  });
}

describe('tus-js-client with parallelUploads: 4', () => {
  it('uploads a file of several MiB that arrives byte-identical; the group progress showed its parts', async () => {
    const data = randomBytes(6 * 1024 * 1024 + 4321);
    const group = randomUUID();
    const watcher = watchGroup(group);
    const upload = parallelUpload(data, group);
    await new Promise<void>((resolve, reject) => {
      upload.options.onSuccess = () => resolve();
      upload.options.onError = reject;
      upload.start();
    });
    await watcher.stop();

    const id = (upload.url as string).split('/').pop() as string;
    expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
    // While it ran, the dashboard saw one file in four parts, advancing.
    const during = watcher.seen.filter((p) => p.parts.length === 4 && p.final === null);
    expect(during.length).toBeGreaterThan(0);
    expect(during.some((p) => p.receivedChunks > 0 && p.receivedChunks < (p.totalChunks ?? 0))).toBe(true);
    expect(during.at(-1)?.parts.every((part) => part.missingRanges !== undefined)).toBe(true);

    const final = (await (await fetch(`${app.base}/api/groups/${group}/progress`)).json()) as GroupProgress;
    expect(final).toMatchObject({ status: 'completed', final: { id, status: 'completed', sha256: sha256(data) } });
    expect(final.parts).toHaveLength(4);
    const own = (await (await fetch(`${app.base}/api/uploads/${id}/progress`)).json()) as {
      parts: unknown[];
      metadata: unknown;
    };
    expect(own.parts).toHaveLength(4);
    expect(own.metadata).toEqual({ filename: 'big.bin' });
  });

  it('is interrupted, then resumes its parts and completes byte-identical, with no part created twice', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const group = randomUUID();
    const upload = parallelUpload(data, group);
    await new Promise<void>((resolve, reject) => {
      upload.options.onProgress = (sent) => {
        if (sent > data.length / 3) {
          upload.options.onProgress = null;
          upload.abort().then(resolve, reject);
        }
      };
      upload.options.onError = reject;
      upload.start();
    });
    const halfway = (await (await fetch(`${app.base}/api/groups/${group}/progress`)).json()) as GroupProgress;
    expect(halfway.parts).toHaveLength(4);
    expect(halfway.final).toBeNull();

    await new Promise<void>((resolve, reject) => {
      upload.options.onSuccess = () => resolve();
      upload.options.onError = reject;
      upload.start();
    });
    const id = (upload.url as string).split('/').pop() as string;
    expect(sha256(await readFile(path.join(app.ctx.dir, id)))).toBe(sha256(data));
    const after = (await (await fetch(`${app.base}/api/groups/${group}/progress`)).json()) as GroupProgress;
    expect(after.parts.map((p) => p.id).sort()).toEqual(halfway.parts.map((p) => p.id).sort());
    expect(after.final?.sha256).toBe(sha256(data));
  });
});
