import {
  UploadPartCommand,
  type UploadPartCommandOutput,
  UploadPartCopyCommand,
  type UploadPartCopyCommandOutput,
} from '@aws-sdk/client-s3';
import { appError } from '../../../errors/app-error.js';
import type { PartialBytes } from '../byte-store.js';
import { PartBody } from '../parts/part-body.js';
import { S3_LIMITS } from './s3-limits.js';
import { multipartOf } from './s3-multipart.js';
import type { S3ByteStoreDeps } from './s3-store-deps.js';

const { minChunkBytes: MIN_PART_BYTES, maxChunks: MAX_PARTS } = S3_LIMITS;
/** S3's largest copied part. */
const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;

type Range = Readonly<{ key: string; start: number; end: number }>;
/** A part copied inside S3 from one object's range, or sent by this server from several ranges (a bridge). */
type PlannedPart = Readonly<{ copy: Range } | { stream: readonly Range[] }>;

const lengthOf = (part: PlannedPart) =>
  'copy' in part ? part.copy.end - part.copy.start : part.stream.reduce((sum, r) => sum + r.end - r.start, 0);

/**
 * The parts of a final upload made of `partials` (keys and sizes, in order).
 * Every range of a partial of at least a part's minimum (5 MiB) is copied
 * inside S3 (UploadPartCopy, in pieces of at most 5 GiB), so its bytes never
 * pass through this server. A smaller partial cannot be a part of its own
 * (S3 refuses parts under 5 MiB but the last): it becomes a bridge part, sent
 * by this server, made of it and the start of the next partials up to 5 MiB
 * (or the end). Bytes sent: at most 5 MiB plus each small partial.
 */
function planParts(partials: readonly Readonly<{ key: string; size: number }>[]): PlannedPart[] {
  const parts: PlannedPart[] = [];
  let bridge: Range[] = [];
  let bridged = 0;
  const closeBridge = () => {
    if (bridged > 0) parts.push({ stream: bridge });
    bridge = [];
    bridged = 0;
  };
  for (const { key, size } of partials) {
    let at = 0;
    if (bridged > 0) {
      const take = Math.min(MIN_PART_BYTES - bridged, size);
      bridge.push({ key, start: 0, end: take });
      bridged += take;
      at = take;
      if (bridged >= MIN_PART_BYTES) closeBridge();
    }
    const rest = size - at;
    if (rest === 0) continue;
    if (rest < MIN_PART_BYTES) {
      bridge.push({ key, start: at, end: size });
      bridged += rest;
      continue;
    }
    const pieceSize = Math.ceil(rest / Math.ceil(rest / MAX_COPY_BYTES));
    for (; at < size; at = Math.min(size, at + pieceSize)) {
      parts.push({ copy: { key, start: at, end: Math.min(size, at + pieceSize) } });
    }
  }
  closeBridge();
  if (parts.length > MAX_PARTS) throw new Error(`a final upload of ${parts.length} parts is more than S3 allows`);
  return parts;
}

/**
 * Assembles a final upload inside S3 from its completed partials, part by
 * part into its multipart upload; each part is recorded as S3 acknowledges
 * it, and `recorded` told the bytes assembled so far (progress).
 */
export async function concatenateInS3(
  deps: S3ByteStoreDeps,
  id: string,
  partials: readonly PartialBytes[],
  recorded: (end: number) => Promise<void>,
): Promise<void> {
  const { bucket, states } = deps;
  const state = await states.read(id);
  if (!state) throw new Error(`upload ${id} has no multipart upload`);
  const plan = planParts(partials.map((p) => ({ key: bucket.key(p.id), size: p.size })));
  const target = { Bucket: bucket.name, Key: bucket.key(id), UploadId: await multipartOf(deps, id, state) };
  let end = 0;
  for (const [i, part] of plan.entries()) {
    const PartNumber = i + 1;
    let etag: string | undefined;
    if ('copy' in part) {
      const reply = await bucket.send<UploadPartCopyCommandOutput>(
        'UploadPartCopy',
        new UploadPartCopyCommand({
          ...target,
          PartNumber,
          CopySource: bucket.copySource(part.copy.key),
          CopySourceRange: `bytes=${part.copy.start}-${part.copy.end - 1}`,
        }),
      );
      etag = reply.CopyPartResult?.ETag;
    } else {
      etag = await sendBridge(deps, target, PartNumber, part.stream);
    }
    await states.recordPart(id, PartNumber, etag as string, lengthOf(part));
    end += lengthOf(part);
    await recorded(end);
  }
}

async function sendBridge(
  { bucket }: S3ByteStoreDeps,
  target: Readonly<{ Bucket: string; Key: string; UploadId: string }>,
  PartNumber: number,
  ranges: readonly Range[],
): Promise<string | undefined> {
  const length = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
  const body = new PartBody(length, bucket.settings.requestTimeoutMs, (b) => bucket.traffic('sent', b));
  const sending = bucket.send<UploadPartCommandOutput>(
    'UploadPart',
    new UploadPartCommand({ ...target, PartNumber, Body: body, ContentLength: length }),
    { signal: body.signal },
  );
  sending.catch(() => {});
  try {
    for (const r of ranges) {
      if (r.end > r.start) await body.feed(bucket.readObject({ Key: r.key, Range: `bytes=${r.start}-${r.end - 1}` }));
    }
    body.finish();
  } catch (error) {
    body.abort(error as Error);
    throw body.stalled ? appError('STORAGE_UNAVAILABLE') : error;
  }
  try {
    return (await sending).ETag;
  } catch (error) {
    throw body.stalled ? appError('STORAGE_UNAVAILABLE') : error;
  } finally {
    body.settled();
  }
}
