import { createHash, randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3Credentials } from './swift.js';

/**
 * A client as Swift's s3api needs it: path-style, and no checksums unless an
 * operation requires one (Swift cannot read the SDK's default aws-chunked
 * bodies: streamed parts would fail with 500).
 */
export function s3Client(s3: S3Credentials, config: S3ClientConfig = {}): S3Client {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...config,
  });
  // Swift refuses DeleteObjects without Content-MD5, which the SDK no longer
  // sends (it sends a flexible checksum instead); the body is the XML string
  // the serializer built, so its MD5 can be taken here.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { body?: unknown; headers?: Record<string, string> };
      if (context.commandName === 'DeleteObjectsCommand' && typeof request.body === 'string' && request.headers)
        request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
      return next(args);
    },
    { step: 'build', name: 'contentMd5ForSwift' },
  );
  return client;
}

/** A new, empty bucket with a name no other test uses. */
export async function freshBucket(client: S3Client): Promise<string> {
  const bucket = `t-${randomBytes(8).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}
