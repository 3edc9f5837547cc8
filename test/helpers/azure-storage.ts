import { randomBytes, randomUUID } from 'node:crypto';
import { BlobServiceClient, type ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { inject } from 'vitest';
import type { AzureCredentials } from './azurite.js';

/**
 * The run's Azurite (or `azure`, another one) as a byte store for the server:
 * a fresh container, and the settings that point a server at it under a blob
 * name prefix of its own.
 */
export async function azureStorage(azure: AzureCredentials = inject('azure')) {
  const service = new BlobServiceClient(
    azure.endpoint,
    new StorageSharedKeyCredential(azure.account, azure.accountKey),
  );
  // Container names: 3 to 63 lowercase letters, digits and dashes.
  const container = `t-${randomBytes(8).toString('hex')}`;
  const containerClient: ContainerClient = service.getContainerClient(container);
  await containerClient.create();
  const names = async (prefix: string, includeUncommitedBlobs: boolean) => {
    const found: string[] = [];
    for await (const blob of containerClient.listBlobsFlat({ prefix, includeUncommitedBlobs })) found.push(blob.name);
    return found.sort();
  };
  return {
    container,
    containerClient,
    /** Settings for one server (or several sharing uploads: pass the same prefix). */
    env(prefix = `t-${randomUUID().slice(0, 8)}/`): Record<string, string> {
      return {
        STORAGE: 'azure',
        AZURE_STORAGE_ACCOUNT: azure.account,
        AZURE_STORAGE_KEY: azure.accountKey,
        AZURE_BLOB_ENDPOINT: azure.endpoint,
        AZURE_CONTAINER: container,
        AZURE_BLOB_PREFIX: prefix,
      };
    },
    /** A committed blob's bytes. */
    bytes: (name: string): Promise<Buffer> => containerClient.getBlockBlobClient(name).downloadToBuffer(),
    /**
     * The committed blobs under `prefix`, and the blobs there that have only
     * staged blocks (an upload's blocks never committed, or left behind).
     */
    async contents(prefix: string): Promise<{ blobs: string[]; uncommitted: string[] }> {
      const blobs = await names(prefix, false);
      const uncommitted = (await names(prefix, true)).filter((name) => !blobs.includes(name));
      return { blobs, uncommitted };
    },
  };
}

export type AzureStorage = Awaited<ReturnType<typeof azureStorage>>;
