// The Azure columns of the benchmark: ours on Azure Blob Storage, the peer
// (@tus/server + @tus/azure-store) on the same Azurite, and Azurite's own
// limit (the bare @azure/storage-blob SDK).
import path from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startAzurite } from '../helpers/azurite.js';
import { benchObjectStore, MiB, PART, type Sizes } from './object-store-bench.js';

type AzureKind = 'azure-ours' | 'azure-peer' | 'azure-limit';
export const AZURE_KINDS = ['azure-ours', 'azure-peer', 'azure-limit'] as const satisfies readonly AzureKind[];

/** A block ID of run-wide fixed length (Azure requires every block ID of a blob to have the same length). */
const blockId = (n: number) => Buffer.from(String(n).padStart(6, '0')).toString('base64');

/**
 * Ours with 8 MiB chunks (= blocks), as on S3: @tus/azure-store's README advises no size (it appends each PATCH
 * body as one block, whatever its size). Azurite keeps its blobs on disk (in memory, a full run outgrows it and
 * slows it down: what is deleted is freed only by its GC, every 10 minutes); each run has a container of its own,
 * deleted after it. Azurite is warmed up first (unmeasured).
 */
export async function benchAzure(sizes: Sizes, reps: number, root: string, redisUrl: string) {
  const azurite = await startAzurite({ location: path.join(root, 'azurite') });
  try {
    const service = new BlobServiceClient(
      azurite.endpoint,
      new StorageSharedKeyCredential(azurite.account, azurite.accountKey),
    );
    const container = (id: number) => service.getContainerClient(`bench-${id}`);
    const env = (id: number) => ({
      AZURE_STORAGE_ACCOUNT: azurite.account,
      AZURE_STORAGE_KEY: azurite.accountKey,
      AZURE_BLOB_ENDPOINT: azurite.endpoint,
      AZURE_CONTAINER: container(id).containerName,
    });
    return await benchObjectStore<AzureKind>(
      {
        kinds: AZURE_KINDS,
        server: async (kind, id) => {
          await container(id).create();
          const UPLOAD_DIR = path.join(root, `${kind}-${id}`);
          if (kind === 'azure-peer')
            return { args: ['--import', 'tsx', 'test/bench/azure-peer-server.ts'], env: { ...env(id), UPLOAD_DIR } };
          return {
            args: ['dist/main.js'],
            env: {
              ...env(id),
              UPLOAD_DIR,
              STORAGE: 'azure',
              AZURE_BLOB_PREFIX: `ours-${id}/`,
              CHUNK_SIZE_BYTES: String(PART),
              REDIS_URL: redisUrl,
              REDIS_KEY_PREFIX: `bench-azure-${id}:`,
            },
          };
        },
        // A large file as staged 8 MiB blocks, then Put Block List; a small one in one upload() (Put Blob).
        bare: async (id) => {
          const client = container(id);
          await client.create();
          return {
            large: async (i, payload) => {
              const blob = client.getBlockBlobClient(`limit/large-${i}`);
              const blocks = [];
              for (let n = 1; n <= (sizes.largeMiB * MiB) / payload.length; n++) {
                await blob.stageBlock(blockId(n), payload, payload.length);
                blocks.push(blockId(n));
              }
              await blob.commitBlockList(blocks);
            },
            small: async (i, body) => {
              await client.getBlockBlobClient(`limit/small-${i}`).upload(body, body.length);
            },
          };
        },
        cleanUp: async (id) => {
          await container(id).delete();
        },
        // Azurite is a Node process: its first thousand requests run measurably slower (JIT), e.g. 1.2 instead
        // of 0.8 ms of its CPU per small Put Blob.
        warmUp: { largeCount: 4, largeMiB: 32, largeParallel: 4, smallCount: 2000, smallParallel: 32 },
      },
      sizes,
      reps,
    );
  } finally {
    await azurite.stop();
  }
}
