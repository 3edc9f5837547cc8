import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AzureStorage, azureStorage } from '../helpers/azure-storage.js';
import { sha256 } from '../helpers/digest.js';
import { serversPerTest } from '../helpers/servers-per-test.js';
import { tuspyWithSpoiledChecksum } from '../helpers/tuspy.js';

const MiB = 1024 * 1024;

let storage: AzureStorage;
beforeAll(async () => {
  storage = await azureStorage();
});
const openServer = serversPerTest();

describe('tuspy on Azure', () => {
  it('with Upload-Checksum: a spoiled chunk gets 460 and leaves nothing in the container; the retried one completes the file', async () => {
    const settings: Record<string, string> = { ...storage.env(), CHUNK_SIZE_BYTES: String(MiB) };
    const prefix = settings.AZURE_BLOB_PREFIX as string;
    const ctx = await openServer(settings);
    const base = await ctx.listen();
    // Chunks of 1.5 MiB on a 1 MiB block grid: each PATCH ends in a tail blob that the next one takes up.
    const data = randomBytes(4 * MiB + 100);
    const file = path.join(ctx.dir, 'source.bin');
    await writeFile(file, data);
    const { statuses, url } = await tuspyWithSpoiledChecksum(`${base}/files`, file, 1.5 * MiB);
    expect(statuses).toBe('460 204 204 204');
    const id = url.split('/').pop() as string;
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await ctx.reader.readRecord(id)).toMatchObject({
      status: 'completed',
      failedChunks: 1,
      receivedChunks: 5,
      totalChunks: 5,
      sha256: sha256(data),
    });
    // The spoiled PATCH's block was never committed and its tail blob was removed: the blob alone is left.
    expect(await storage.contents(prefix)).toEqual({ blobs: [`${prefix}${id}`], uncommitted: [] });
  });
});
