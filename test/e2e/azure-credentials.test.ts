import { randomBytes } from 'node:crypto';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  ContainerSASPermissions,
  generateAccountSASQueryParameters,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type AzureStorage, azureStorage } from '../helpers/azure-storage.js';
import { storageTraffic, type TestContext } from '../helpers/context.js';
import { sha256 } from '../helpers/digest.js';
import { tusUpload } from '../helpers/instances.js';
import { serversPerTest } from '../helpers/servers-per-test.js';

const BLOCK = 1024 * 1024;
const azure = inject('azure');

let storage: AzureStorage;
beforeAll(async () => {
  storage = await azureStorage();
});
const openServer = serversPerTest();

const credential = () => new StorageSharedKeyCredential(azure.account, azure.accountKey);
const expiresOn = () => new Date(Date.now() + 3600_000);

/** An account SAS for the Blob service: every resource type, permissions racwdl. */
const accountSas = () =>
  generateAccountSASQueryParameters(
    {
      services: AccountSASServices.parse('b').toString(),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      permissions: AccountSASPermissions.parse('racwdl'),
      expiresOn: expiresOn(),
    },
    credential(),
  ).toString();

/** A service SAS for the test's container, permissions racwdl. */
const containerSas = () =>
  generateBlobSASQueryParameters(
    { containerName: storage.container, permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: expiresOn() },
    credential(),
  ).toString();

/**
 * The ways in, each as the settings that name it (no AZURE_STORAGE_KEY unless it is the way); `copies`: whether
 * Azurite serves Put Block From URL with it. Azurite 3.37.0 has no account SAS rule for Put Block From URL (its
 * OPERATION_ACCOUNT_SAS_PERMISSIONS lacks BlockBlob_StageBlockFromURL: it answers 500 whatever the source), so an
 * assembly inside Azure is tried with the other three.
 */
const WAYS_IN: Array<{ way: string; copies: boolean; env: () => Record<string, string> }> = [
  {
    way: 'AZURE_STORAGE_CONNECTION_STRING (AccountKey, BlobEndpoint)',
    copies: true,
    env: () => ({ AZURE_STORAGE_CONNECTION_STRING: azure.connectionString }),
  },
  {
    way: 'AZURE_STORAGE_CONNECTION_STRING (SharedAccessSignature of the container, BlobEndpoint)',
    copies: true,
    env: () => ({
      AZURE_STORAGE_CONNECTION_STRING: `BlobEndpoint=${azure.endpoint};SharedAccessSignature=${containerSas()}`,
    }),
  },
  {
    way: 'AZURE_STORAGE_SAS_TOKEN (a container SAS)',
    copies: true,
    env: () => ({ ...throughEndpoint(), AZURE_STORAGE_SAS_TOKEN: containerSas() }),
  },
  {
    way: 'AZURE_STORAGE_SAS_TOKEN (an account SAS)',
    copies: false,
    env: () => ({ ...throughEndpoint(), AZURE_STORAGE_SAS_TOKEN: accountSas() }),
  },
];

const throughEndpoint = () => ({ AZURE_STORAGE_ACCOUNT: azure.account, AZURE_BLOB_ENDPOINT: azure.endpoint });

/** A server reaching the container with `way`, on a 1 MiB block grid, digest off (nothing read back but what the store reads). */
async function serve(way: Record<string, string>): Promise<{ base: string; prefix: string; server: TestContext }> {
  // The container and the prefix, without the account key the helper's settings reach them with.
  const {
    AZURE_STORAGE_ACCOUNT: _account,
    AZURE_STORAGE_KEY: _key,
    AZURE_BLOB_ENDPOINT: _endpoint,
    ...place
  } = storage.env();
  const server = await openServer({ ...place, ...way, CHUNK_SIZE_BYTES: String(BLOCK), UPLOAD_DIGEST: 'none' });
  return { base: await server.listen(), prefix: place.AZURE_BLOB_PREFIX as string, server };
}

const idOf = (upload: { url: string | null }) => (upload.url as string).split('/').pop() as string;

describe.each(WAYS_IN)('a server that reaches Azure with $way', ({ env }) => {
  it('reports itself ready on /readyz', async () => {
    const { base } = await serve(env());
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status, await ready.text()).toBe(200);
  });

  it('takes an upload whose unaligned chunks leave a tail it reads back from Azure', async () => {
    const { base, prefix, server } = await serve(env());
    const data = randomBytes(3 * BLOCK + 500);
    const done = await tusUpload(data, { endpoint: `${base}/files`, chunkSize: 1.5 * BLOCK });
    const id = idOf(done);
    expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
    expect(await server.reader.readRecord(id)).toMatchObject({ status: 'completed', receivedChunks: 4 });
    // The one tail (the last 0.5 MiB of the first PATCH) was read back from Azure, and sent again in block 2.
    expect(await storageTraffic(server)).toEqual({ sent: data.length + BLOCK / 2, read: BLOCK / 2 });
    expect(await storage.contents(prefix)).toEqual({ blobs: [`${prefix}${id}`], uncommitted: [] });
  });
});

describe.each(WAYS_IN.filter((w) => w.copies))(
  'parallelUploads through a server that reaches Azure with $way',
  ({ env }) => {
    it('are assembled inside Azure (Put Block From URL): no byte of them passes through the server', async () => {
      const { base, prefix, server } = await serve(env());
      const data = randomBytes(4 * BLOCK + 1234);
      const done = await tusUpload(data, { endpoint: `${base}/files`, parallelUploads: 2 });
      const id = idOf(done);
      // The PATCHes sent each byte once; the copy sent none and read none.
      expect(await storageTraffic(server)).toEqual({ sent: data.length, read: 0 });
      expect(sha256(await storage.bytes(`${prefix}${id}`))).toBe(sha256(data));
      expect(await server.reader.readRecord(id)).toMatchObject({ status: 'completed', offset: data.length });
      const download = await fetch(done.url as string);
      expect(download.status).toBe(200);
      expect(sha256(Buffer.from(await download.arrayBuffer()))).toBe(sha256(data));
      // The partials are gone (REMOVE_PARTIALS_AFTER_CONCAT): the final blob alone is left.
      expect(await storage.contents(prefix)).toEqual({ blobs: [`${prefix}${id}`], uncommitted: [] });
    });
  },
);
