// The S3 columns of the benchmark: ours on S3, the peer (@tus/server +
// @tus/s3-store) on the same Swift, and Swift's own limit (the bare SDK).
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { freshBucket, s3Client } from '../helpers/s3.js';
import { startSwift } from '../helpers/swift.js';
import { benchObjectStore, MiB, PART, type Sizes } from './object-store-bench.js';

type S3Kind = 's3-ours' | 's3-peer' | 's3-limit';
export const S3_KINDS = ['s3-ours', 's3-peer', 's3-limit'] as const satisfies readonly S3Kind[];

/** Ours with the peer's part size (its README advises 8 MiB) as its chunk size; Swift's limit in 8 MiB parts. */
export async function benchS3(sizes: Sizes, reps: number, root: string, redisUrl: string) {
  const swift = await startSwift({ dir: path.join(root, 'swift') });
  try {
    const client = s3Client(swift);
    const Bucket = await freshBucket(client);
    const env = {
      S3_BUCKET: Bucket,
      S3_ENDPOINT: swift.endpoint,
      S3_REGION: swift.region,
      AWS_ACCESS_KEY_ID: swift.accessKeyId,
      AWS_SECRET_ACCESS_KEY: swift.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    return await benchObjectStore<S3Kind>(
      {
        kinds: S3_KINDS,
        server: async (kind, id) => {
          const UPLOAD_DIR = path.join(root, `${kind}-${id}`);
          if (kind === 's3-peer')
            return { args: ['--import', 'tsx', 'test/bench/s3-peer-server.ts'], env: { ...env, UPLOAD_DIR } };
          return {
            args: ['dist/main.js'],
            env: {
              ...env,
              UPLOAD_DIR,
              STORAGE: 's3',
              S3_FORCE_PATH_STYLE: 'true',
              S3_KEY_PREFIX: `ours-${id}/`,
              CHUNK_SIZE_BYTES: String(PART),
              REDIS_URL: redisUrl,
              REDIS_KEY_PREFIX: `bench-s3-${id}:`,
            },
          };
        },
        // A multipart upload in 8 MiB parts for a large file; one PutObject for a small one.
        bare: async (id) => ({
          large: async (i, payload) => {
            const Key = `limit-${id}/large-${i}`;
            const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
            const Parts = [];
            for (let n = 1; n <= (sizes.largeMiB * MiB) / payload.length; n++) {
              const part = await client.send(
                new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body: payload, ContentLength: PART }),
              );
              Parts.push({ ETag: part.ETag, PartNumber: n });
            }
            await client.send(
              new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }),
            );
          },
          small: async (i, body) => {
            await client.send(
              new PutObjectCommand({ Bucket, Key: `limit-${id}/small-${i}`, Body: body, ContentLength: body.length }),
            );
          },
        }),
      },
      sizes,
      reps,
    );
  } finally {
    await swift.stop();
  }
}
