import {
  CompleteMultipartUploadCommand,
  type CompleteMultipartUploadCommandOutput,
  CopyObjectCommand,
  type CopyObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  PutObjectCommand,
  type PutObjectCommandOutput,
  UploadPartCopyCommand,
  type UploadPartCopyCommandOutput,
} from '@aws-sdk/client-s3';
import { appError } from '../../../errors/app-error.js';
import { type ByteState, heldBytes } from '../parts/byte-state.js';
import type { S3Bucket } from './s3-bucket.js';
import type { S3ByteStoreDeps } from './s3-store-deps.js';

/**
 * The multipart upload becomes the one object `<prefix><id>`: a tail left
 * at the end goes in as the last part by a server-side copy; then
 * CompleteMultipartUpload with the recorded ETags (not ListParts). An empty
 * upload is an empty object. Called again after a crash, it finds what it did.
 */
export async function sealUpload(deps: S3ByteStoreDeps, id: string): Promise<void> {
  const { bucket, states } = deps;
  const state = await states.read(id);
  if (!state) throw appError('UPLOAD_GONE');
  if (state.sealed) return;
  const key = bucket.key(id);
  if (!state.uploadId) {
    // No part was ever sent: the upload is its tail (copied into place inside S3), or empty.
    const etag = state.tail ? await copyInto(bucket, state.tail.key, key) : await putEmpty(bucket, key, undefined);
    await states.seal(id, heldBytes(state), etag);
    if (state.tail) await removeTails(bucket, key);
    return;
  }
  let count = state.partCount;
  if (state.tail) {
    const copied = await bucket.send<UploadPartCopyCommandOutput>(
      'UploadPartCopy',
      new UploadPartCopyCommand({
        Bucket: bucket.name,
        Key: key,
        UploadId: state.uploadId,
        PartNumber: state.tail.part,
        CopySource: bucket.copySource(state.tail.key),
      }),
    );
    await states.recordPart(id, state.tail.part, copied.CopyPartResult?.ETag as string, state.tail.length);
    count = state.tail.part;
  }
  const etag = count === 0 ? await putEmpty(bucket, key, state.uploadId) : await complete(deps, id, key, state, count);
  await states.seal(id, heldBytes(state), etag);
  await removeTails(bucket, key);
}

/** The tail objects of the upload whose final object is `key`, once the object holds their bytes. */
async function removeTails(bucket: S3Bucket, key: string): Promise<void> {
  for await (const tail of bucket.objects(`${key}.tail-`)) await bucket.deleteQuietly(tail.key);
}

async function copyInto(bucket: S3Bucket, from: string, key: string): Promise<string> {
  const reply = await bucket.send<CopyObjectCommandOutput>(
    'CopyObject',
    new CopyObjectCommand({ Bucket: bucket.name, Key: key, CopySource: bucket.copySource(from) }),
  );
  return reply.CopyObjectResult?.ETag ?? '';
}

async function putEmpty(bucket: S3Bucket, key: string, uploadId: string | undefined): Promise<string> {
  if (uploadId) await bucket.abortUpload(key, uploadId);
  const reply = await bucket.send<PutObjectCommandOutput>(
    'PutObject',
    new PutObjectCommand({ Bucket: bucket.name, Key: key, Body: Buffer.alloc(0), ContentLength: 0 }),
  );
  return reply.ETag ?? '';
}

async function complete(deps: S3ByteStoreDeps, id: string, key: string, state: ByteState, count: number) {
  const { bucket } = deps;
  const etags = await deps.states.parts(id, count);
  const command = new CompleteMultipartUploadCommand({
    Bucket: bucket.name,
    Key: key,
    UploadId: state.uploadId,
    MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
  });
  // Completing thousands of parts takes S3 a while: more time than any other call.
  const timeoutMs = bucket.settings.requestTimeoutMs * 10;
  const done = await bucket.sendUnlessMissing<CompleteMultipartUploadCommandOutput>('Complete', command, timeoutMs);
  if (done) return done.ETag ?? '';
  // NoSuchUpload: completed by an earlier call whose answer was lost (AWS forgets an upload once completed).
  const head = await bucket.send<HeadObjectCommandOutput>(
    'HeadObject',
    new HeadObjectCommand({ Bucket: bucket.name, Key: key }),
  );
  return head.ETag ?? '';
}
