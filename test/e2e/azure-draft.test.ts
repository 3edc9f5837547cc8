import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AzureStorage, azureStorage } from '../helpers/azure-storage.js';
import type { TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { draftRequest, interruptedCreation, recordedAtLeast } from '../helpers/draft.js';
import { serversPerTest } from '../helpers/servers-per-test.js';

const BLOCK = 1024 * 1024;

let storage: AzureStorage;
beforeAll(async () => {
  storage = await azureStorage();
});
const openServer = serversPerTest();

/** A server on the container under a prefix of its own, on a 1 MiB block grid: its base URL and the prefix. */
async function serve(): Promise<{ base: string; prefix: string; server: TestContext }> {
  const settings: Record<string, string> = { ...storage.env(), CHUNK_SIZE_BYTES: String(BLOCK) };
  const server = await openServer(settings);
  return { base: await server.listen(), prefix: settings.AZURE_BLOB_PREFIX as string, server };
}

const idOf = (location: unknown) => new URL(String(location)).pathname.split('/').pop() as string;

/** Expects upload `id` to be the one blob under `prefix`, holding `data`, and completed in Redis with its SHA-256. */
async function expectStored(server: TestContext, prefix: string, id: string, data: Buffer): Promise<void> {
  expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
  expect(await server.reader.readProgress(id)).toMatchObject({
    status: 'completed',
    offset: data.length,
    totalChunks: Math.ceil(data.length / BLOCK),
    sha256: sha256(data),
  });
  expect(await storage.contents(`${prefix}${id}`)).toEqual({ blobs: [`${prefix}${id}`], uncommitted: [] });
}

describe('IETF draft uploads on Azure (Azurite)', () => {
  it('interop 6: a creation cut mid-block resumes from its 104 Location at the last whole block', async () => {
    const { base, prefix, server } = await serve();
    const data = randomBytes(2 * BLOCK + 4321);
    const V6 = { 'Upload-Draft-Interop-Version': '6' };
    const interim = await interruptedCreation(
      base,
      '/files',
      { ...V6, 'Upload-Complete': '?1' },
      data.subarray(0, BLOCK + 1000),
      data.length,
      recordedAtLeast(server.reader, BLOCK),
    );
    expect(interim.statusCode).toBe(104);
    const url = new URL(String(interim.headers.location)).pathname;
    const head = await draftRequest(base, 'HEAD', url, V6);
    expect(head.status).toBe(204);
    expect(head.headers['upload-length']).toBe(String(data.length));
    // Azure takes a block whole or not at all: the 1000 bytes of block 2 that came are not stored.
    expect(head.headers['upload-offset']).toBe(String(BLOCK));
    const rest = await draftRequest(
      base,
      'PATCH',
      url,
      { ...V6, 'Upload-Offset': String(BLOCK), 'Upload-Complete': '?1', 'Content-Type': 'application/partial-upload' },
      data.subarray(BLOCK),
    );
    expect(rest.status).toBe(201);
    expect(rest.headers['upload-complete']).toBe('?1');
    await expectStored(server, prefix, idOf(interim.headers.location), data);
  });

  it.each([
    { size: BLOCK - 5, as: 'within one block (one Put Blob, no block list)', blocks: 0 },
    { size: 2 * BLOCK + 77, as: 'of three blocks', blocks: 3 },
  ])('interop 10: a whole file $as in one request as URLSession sends it', async ({ size, blocks }) => {
    const { base, prefix, server } = await serve();
    const data = randomBytes(size);
    const res = await draftRequest(
      base,
      'POST',
      '/files',
      {
        'Upload-Draft-Interop-Version': '10',
        'Upload-Complete': '?1',
        'Upload-Length': String(data.length),
        'Content-Type': 'image/heic',
      },
      data,
    );
    expect(res.informational[0]?.statusCode).toBe(104);
    expect(res.status).toBe(201);
    expect(res.headers['upload-complete']).toBe('?1');
    expect(res.headers['upload-offset']).toBe(String(data.length));
    const id = idOf(res.headers.location);
    await expectStored(server, prefix, id, data);
    const list = await storage.containerClient.getBlockBlobClient(`${prefix}${id}`).getBlockList('committed');
    expect(list.committedBlocks ?? []).toHaveLength(blocks);
  });

  it('interop 10: a creation cut mid-body, its offset retrieved by GET, then appended to completion', async () => {
    const { base, prefix, server } = await serve();
    const V10 = { 'Upload-Draft-Interop-Version': '10' };
    const data = randomBytes(3 * BLOCK + 99);
    const interim = await interruptedCreation(
      base,
      '/files',
      { ...V10, 'Upload-Complete': '?1' },
      data.subarray(0, 2 * BLOCK + 10),
      data.length,
      recordedAtLeast(server.reader, 2 * BLOCK),
    );
    const url = new URL(String(interim.headers.location)).pathname;
    const got = await draftRequest(base, 'GET', url, V10);
    expect(got.status).toBe(204);
    expect(got.headers['upload-offset']).toBe(String(2 * BLOCK));
    const rest = await draftRequest(
      base,
      'PATCH',
      url,
      {
        ...V10,
        'Upload-Offset': String(2 * BLOCK),
        'Upload-Complete': '?1',
        'Content-Type': 'application/partial-upload',
      },
      data.subarray(2 * BLOCK),
    );
    expect(rest.status).toBe(201);
    await expectStored(server, prefix, idOf(interim.headers.location), data);
  });
});
