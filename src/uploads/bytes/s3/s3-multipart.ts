import { CreateMultipartUploadCommand, type CreateMultipartUploadCommandOutput } from '@aws-sdk/client-s3';
import { appError } from '../../../errors/app-error.js';
import type { ByteState } from '../parts/byte-state.js';
import type { S3ByteStoreDeps } from './s3-store-deps.js';

/**
 * The multipart upload of upload `id`, started at its first part (called
 * under the upload's lock, so by one writer at a time). An upload stored
 * whole in one request never starts one: it is one PutObject. A multipart
 * upload started but not recorded (a crash in between, a lost reply) has no
 * state that names it: the upload's removal, or the sweeper's pass over the
 * bucket once no record owns it, aborts it.
 */
export async function multipartOf(deps: Pick<S3ByteStoreDeps, 'bucket' | 'states'>, id: string, state: ByteState) {
  if (state.uploadId) return state.uploadId;
  const { bucket, states } = deps;
  const key = bucket.key(id);
  const reply = await bucket.send<CreateMultipartUploadCommandOutput>(
    'CreateMultipartUpload',
    new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: key, ContentType: 'application/octet-stream' }),
  );
  const uploadId = reply.UploadId as string;
  // A failure to record it is not aborted: Redis may have applied the write and lost only its reply (a command
  // timeout), and then the state names this multipart upload. One that no state names is aborted with the
  // upload's other multipart uploads when it is removed (removeUpload aborts every one under its key).
  const recorded = await states.startMultipart(id, uploadId);
  if (!recorded) {
    await bucket.abortUpload(key, uploadId).catch(() => {});
    throw appError('UPLOAD_GONE');
  }
  return uploadId;
}
