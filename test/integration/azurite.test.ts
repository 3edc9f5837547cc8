import { randomBytes } from 'node:crypto';
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  RestError,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type AzureStorage, azureStorage } from '../helpers/azure-storage.js';
import { type Azurite, startAzurite } from '../helpers/azurite.js';

const azure = inject('azure');
let storage: AzureStorage;

beforeEach(async () => {
  storage = await azureStorage();
});

/** Block ids are base64, and all of one blob's must have the same length. */
const blockId = (n: number) => Buffer.from(`block-${String(n).padStart(6, '0')}`).toString('base64');

async function bytes(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream ?? []) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

const failureOf = (call: Promise<unknown>) =>
  call.then(
    () => expect.fail('the call succeeded'),
    (error: unknown) => error,
  );

describe('Azurite block blobs through @azure/storage-blob', () => {
  it('two staged blocks, committed in order, read back as their concatenation', async () => {
    const blob = storage.containerClient.getBlockBlobClient('concat');
    const [a, b] = [randomBytes(1000), randomBytes(777)];
    await blob.stageBlock(blockId(1), a, a.length);
    await blob.stageBlock(blockId(2), b, b.length);
    await blob.commitBlockList([blockId(1), blockId(2)]);
    expect((await blob.downloadToBuffer()).equals(Buffer.concat([a, b]))).toBe(true);
    expect((await blob.getProperties()).contentLength).toBe(1777);
  });

  it("getBlockList('uncommitted') lists the staged blocks with their sizes; nothing is committed yet", async () => {
    const blob = storage.containerClient.getBlockBlobClient('staged');
    await blob.stageBlock(blockId(1), randomBytes(10), 10);
    await blob.stageBlock(blockId(2), randomBytes(25), 25);
    const list = await blob.getBlockList('uncommitted');
    expect(list.uncommittedBlocks?.map((b) => [b.name, b.size])).toEqual([
      [blockId(1), 10],
      [blockId(2), 25],
    ]);
    const all = await blob.getBlockList('all');
    expect(all.committedBlocks ?? []).toEqual([]);
  });

  it('contents(): staged blocks only are an uncommitted blob; an empty commit, then a delete, leaves nothing', async () => {
    const prefix = 'p/';
    const blob = storage.containerClient.getBlockBlobClient(`${prefix}upload`);
    await storage.containerClient.getBlockBlobClient('elsewhere').upload('x', 1);
    await blob.stageBlock(blockId(1), 'abc', 3);
    expect(await storage.contents(prefix)).toEqual({ blobs: [], uncommitted: ['p/upload'] });

    await blob.commitBlockList([]);
    expect(await storage.contents(prefix)).toEqual({ blobs: ['p/upload'], uncommitted: [] });
    expect((await blob.getProperties()).contentLength).toBe(0);
    // Committing discarded the staged block.
    expect((await blob.getBlockList('uncommitted')).uncommittedBlocks ?? []).toEqual([]);

    await blob.delete();
    expect(await storage.contents(prefix)).toEqual({ blobs: [], uncommitted: [] });
    expect((await storage.contents('')).blobs).toEqual(['elsewhere']);
  });

  it('stageBlockFromURL copies a range of another blob, read through a SAS; without one it is refused', async () => {
    const source = storage.containerClient.getBlockBlobClient('source');
    const data = randomBytes(4096);
    await source.upload(data, data.length);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: storage.container,
        blobName: 'source',
        permissions: BlobSASPermissions.parse('r'),
        expiresOn: new Date(Date.now() + 10 * 60_000),
      },
      new StorageSharedKeyCredential(azure.account, azure.accountKey),
    ).toString();

    const target = storage.containerClient.getBlockBlobClient('target');
    await target.stageBlock(blockId(1), 'head', 4);
    await target.stageBlockFromURL(blockId(2), `${source.url}?${sas}`, 1000, 500);
    await target.commitBlockList([blockId(1), blockId(2)]);
    const got = await target.downloadToBuffer();
    expect(got.equals(Buffer.concat([Buffer.from('head'), data.subarray(1000, 1500)]))).toBe(true);

    const refused = await failureOf(target.stageBlockFromURL(blockId(3), source.url, 0, 10));
    expect(refused).toBeInstanceOf(RestError);
    expect((refused as RestError).statusCode).toBe(403);
  });

  it('download with offset and count gives that range; ifNoneMatch with the current etag is 304', async () => {
    const blob = storage.containerClient.getBlockBlobClient('ranged');
    const data = randomBytes(10_000);
    const { etag } = await blob.upload(data, data.length);
    const ranged = await blob.download(2000, 1500);
    expect({ status: ranged._response.status, range: ranged.contentRange, length: ranged.contentLength }).toEqual({
      status: 206,
      range: 'bytes 2000-3499/10000',
      length: 1500,
    });
    expect((await bytes(ranged.readableStreamBody)).equals(data.subarray(2000, 3500))).toBe(true);

    const unchanged = await failureOf(blob.download(0, undefined, { conditions: { ifNoneMatch: etag } }));
    expect(unchanged).toBeInstanceOf(RestError);
    expect((unchanged as RestError).statusCode).toBe(304);
  });
});

/** Its own Azurite: pausing the run's one would stall every other file's tests. */
describe('a paused Azurite', () => {
  let own: Azurite;
  afterAll(() => own?.stop());

  it('does not answer (the call times out) until it is resumed; then the same call succeeds', async () => {
    own = await startAzurite();
    const service = new BlobServiceClient(own.endpoint, new StorageSharedKeyCredential(own.account, own.accountKey));
    const container = service.getContainerClient('paused');
    await container.create();
    const blob = container.getBlockBlobClient('b');
    await blob.upload('still here', 10);

    await own.pause();
    const started = Date.now();
    const timedOut = await failureOf(blob.downloadToBuffer(0, undefined, { abortSignal: AbortSignal.timeout(1000) }));
    expect((timedOut as Error).name).toBe('AbortError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);

    own.resume();
    expect((await blob.downloadToBuffer(0, undefined, { abortSignal: AbortSignal.timeout(5000) })).toString()).toBe(
      'still here',
    );
  });
});
