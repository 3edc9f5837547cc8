import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { isUploadId } from '../../model/upload-id.js';
import type { FetchConditions, FetchedBytes } from '../byte-store.js';
import type { S3Bucket } from './s3-bucket.js';
import { describeS3Error, fromS3Error, s3ErrorName, s3Status } from './s3-client.js';
import type { S3ByteStoreDeps } from './s3-store-deps.js';

/**
 * GET of a completed upload's object, with Range and conditional requests
 * passed to S3 and its answer passed back (200, 206, 304, 412, 416), the bytes
 * streamed as they come (nothing buffered). A missing object is a 404.
 */
export async function fetchObject(bucket: S3Bucket, key: string, conditions: FetchConditions): Promise<FetchedBytes> {
  try {
    const { reply, bytes } = await bucket.getObject({
      Key: key,
      Range: conditions.range,
      IfNoneMatch: conditions.ifNoneMatch,
      IfMatch: conditions.ifMatch,
      IfModifiedSince: conditions.ifModifiedSince ? new Date(conditions.ifModifiedSince) : undefined,
      IfUnmodifiedSince: conditions.ifUnmodifiedSince ? new Date(conditions.ifUnmodifiedSince) : undefined,
    });
    const headers: Record<string, string> = { 'Accept-Ranges': 'bytes' };
    if (reply.ContentLength !== undefined) headers['Content-Length'] = String(reply.ContentLength);
    if (reply.ContentRange) headers['Content-Range'] = reply.ContentRange;
    if (reply.ETag) headers.ETag = reply.ETag;
    if (reply.LastModified) headers['Last-Modified'] = reply.LastModified.toUTCString();
    return { status: reply.$metadata.httpStatusCode ?? 200, headers, body: Readable.from(bytes) };
  } catch (error) {
    const status = s3Status(error);
    if (status === 304 || status === 412 || status === 404) return { status, headers: {} };
    if (status === 416) return { status, headers: { 'Content-Range': 'bytes */*' } };
    throw fromS3Error(error, 'GetObject', bucket.logger);
  }
}

/**
 * Whether the bucket can take uploads: `ok`, or what is wrong. `write` also
 * writes and deletes a small object under the prefix (at start); readiness
 * only asks S3 whether the bucket answers.
 */
export async function probeBucket(bucket: S3Bucket, write: boolean): Promise<string> {
  const timeout = () => AbortSignal.timeout(bucket.settings.requestTimeoutMs);
  try {
    if (!write) {
      await bucket.client.send(new HeadBucketCommand({ Bucket: bucket.name }), { abortSignal: timeout() });
      return 'ok';
    }
    const Key = `${bucket.settings.keyPrefix}.probe-${randomUUID()}`;
    await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key, Body: 'ok', ContentLength: 2 }), {
      abortSignal: timeout(),
    });
    await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key }), { abortSignal: timeout() });
    return 'ok';
  } catch (error) {
    // Logged here: the SDK's own line for a failed command is left out (see createS3Client).
    bucket.logger.warn(
      { s3: { name: s3ErrorName(error), status: s3Status(error) }, call: 'probe' },
      'S3 bucket probe failed',
    );
    return `unavailable: ${describeS3Error(error)}`;
  }
}

/**
 * Everything of the upload goes: its recorded state first (so that a
 * failure half way leaves a record without bytes, which is removed again,
 * never bytes that look whole), then every multipart upload and object
 * whose key starts with `<prefix><id>`, found by listing them.
 */
export async function removeUpload({ bucket, states }: S3ByteStoreDeps, id: string): Promise<boolean> {
  const state = await states.read(id);
  await states.remove(id);
  const key = bucket.key(id);
  let had = state !== undefined;
  for await (const upload of bucket.uploads(key)) {
    if (upload.key !== key) continue;
    await bucket.abortUpload(key, upload.uploadId);
    had = true;
  }
  for await (const object of bucket.objects(key)) {
    if (object.key !== key && !object.key.startsWith(`${key}.`)) continue;
    await bucket.send('DeleteObject', new DeleteObjectCommand({ Bucket: bucket.name, Key: object.key }));
    had = true;
  }
  return had;
}

/** Every upload with an object or a multipart upload under the prefix, by ID (keys are `<prefix><id>...`). */
export async function* listUploads(bucket: S3Bucket): AsyncIterable<{ id: string; modifiedAt: number }> {
  const prefix = bucket.settings.keyPrefix;
  const idOf = (key: string) => key.slice(prefix.length, prefix.length + 36);
  for await (const object of bucket.objects(prefix)) {
    const id = idOf(object.key);
    if (isUploadId(id)) yield { id, modifiedAt: object.modifiedAt };
  }
  for await (const upload of bucket.uploads(prefix)) {
    const id = idOf(upload.key);
    if (isUploadId(id)) yield { id, modifiedAt: upload.startedAt };
  }
}
