import { randomUUID } from 'node:crypto';
import { ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { freshBucket, s3Client } from './s3.js';

/**
 * The run's Swift as a byte store for the server: a fresh bucket, and the
 * settings that point a server at it under a key prefix of its own (the
 * credentials go through the environment, as the AWS SDK's default chain
 * reads them; set here for servers in this process, passed to child ones).
 */
export async function s3Storage() {
  const s3 = inject('s3');
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const client: S3Client = s3Client(s3);
  const bucket = await freshBucket(client);
  return {
    client,
    bucket,
    /** Settings for one server (or several sharing uploads: pass the same prefix). */
    env(prefix = `t-${randomUUID().slice(0, 8)}/`): Record<string, string> {
      return {
        STORAGE: 's3',
        S3_BUCKET: bucket,
        S3_ENDPOINT: s3.endpoint,
        S3_REGION: s3.region,
        S3_FORCE_PATH_STYLE: 'true',
        S3_KEY_PREFIX: prefix,
        CHUNK_SIZE_BYTES: String(5 * 1024 * 1024),
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      };
    },
    /** Every object key and every multipart upload's key under `prefix`. */
    async contents(prefix: string): Promise<{ objects: string[]; uploads: string[] }> {
      const objects = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
      return {
        objects: (objects.Contents ?? []).map((o) => o.Key as string).sort(),
        uploads: (uploads.Uploads ?? []).map((u) => u.Key as string).sort(),
      };
    },
  };
}

export type S3Storage = Awaited<ReturnType<typeof s3Storage>>;
