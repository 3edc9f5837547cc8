import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { md5, multipartEtag, randomStream } from '../helpers/bytes.js';
import { sha256 } from '../helpers/digest.js';
import { freshBucket, s3Client } from '../helpers/s3.js';
import { type BucketCalls, bucketCalls, failureOf } from '../helpers/s3-bucket.js';

const MiB = 1024 * 1024;
let client: S3Client;
let b: BucketCalls;

beforeAll(() => {
  client = s3Client(inject('s3'));
});
beforeEach(async () => {
  b = bucketCalls(client, await freshBucket(client));
});

const abort = (key: string, uploadId: string) =>
  client.send(new AbortMultipartUploadCommand({ Bucket: b.bucket, Key: key, UploadId: uploadId }));

describe('Swift s3api multipart uploads through @aws-sdk/client-s3', () => {
  it('parts streamed from Readables with a ContentLength, ListParts paged, Complete gives the concatenation', async () => {
    const whole = createHash('sha256');
    const sizes = [5 * MiB, 5 * MiB + 3, 100];
    const uploadId = await b.createUpload('streamed', 'application/octet-stream');
    const md5s: string[] = [];
    const parts: CompletedPart[] = [];
    for (const [i, size] of sizes.entries()) {
      const { stream, md5: partMd5 } = randomStream(size, whole);
      const part = { Bucket: b.bucket, Key: 'streamed', UploadId: uploadId, PartNumber: i + 1 };
      const { ETag } = await client.send(new UploadPartCommand({ ...part, Body: stream, ContentLength: size }));
      expect(ETag).toBe(`"${partMd5()}"`);
      md5s.push(partMd5());
      parts.push({ PartNumber: i + 1, ETag });
    }
    const list = { Bucket: b.bucket, Key: 'streamed', UploadId: uploadId, MaxParts: 2 };
    const page1 = await client.send(new ListPartsCommand(list));
    expect({ truncated: page1.IsTruncated, next: page1.NextPartNumberMarker }).toEqual({ truncated: true, next: '2' });
    const page2 = await client.send(new ListPartsCommand({ ...list, PartNumberMarker: '2' }));
    expect(page2.IsTruncated).toBe(false);
    expect([...(page1.Parts ?? []), ...(page2.Parts ?? [])].map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual(
      sizes.map((size, i) => [i + 1, size, `"${md5s[i]}"`]),
    );
    const done = await b.complete('streamed', uploadId, parts);
    expect(done.ETag).toBe(multipartEtag(md5s));
    const got = await b.read('streamed');
    expect({ length: got.ContentLength, type: got.ContentType }).toEqual({
      length: 10 * MiB + 103,
      type: 'application/octet-stream',
    });
    expect(sha256(got.bytes)).toBe(whole.digest('hex'));
  });

  // Unwired, the stream's error is uncaught (the SDK pipes the body) and the call hangs until
  // Swift's client_timeout (60 s), then RequestTimeout: a store must wire its source like this.
  it('a part whose body stream fails, its error wired to an AbortSignal, rejects at once with AbortError and stores nothing', async () => {
    const uploadId = await b.createUpload('broken');
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent === MiB) {
          this.destroy(new Error('client went away'));
          return;
        }
        sent += 64 * 1024;
        this.push(randomBytes(64 * 1024));
      },
    });
    const aborter = new AbortController();
    body.once('error', (error) => aborter.abort(error));
    const part = { Bucket: b.bucket, Key: 'broken', UploadId: uploadId, PartNumber: 1 };
    const failed = await client
      .send(new UploadPartCommand({ ...part, Body: body, ContentLength: 5 * MiB }), { abortSignal: aborter.signal })
      .catch((error: Error) => error);
    expect(failed).toMatchObject({ name: 'AbortError', cause: { message: 'client went away' } });
    expect((await b.listParts('broken', uploadId)).Parts ?? []).toEqual([]);
  });

  it('UploadPartCopy with CopySourceRange copies byte ranges of an object into a new upload', async () => {
    const source = randomBytes(8 * MiB);
    await b.put('copy-source', source);
    const uploadId = await b.createUpload('copied');
    const parts = [
      await b.copyPart('copied', uploadId, 1, 'copy-source', `bytes=${2 * MiB}-${7 * MiB - 1}`),
      await b.copyPart('copied', uploadId, 2, 'copy-source', `bytes=0-${5 * MiB + 1}`),
      await b.uploadPart('copied', uploadId, 3, 'own tail'),
    ];
    const expected = [source.subarray(2 * MiB, 7 * MiB), source.subarray(0, 5 * MiB + 2), Buffer.from('own tail')];
    expect(parts.map((p) => p.ETag)).toEqual(expected.map((part) => `"${md5(part)}"`));
    await b.complete('copied', uploadId, parts);
    expect(sha256((await b.read('copied')).bytes)).toBe(sha256(Buffer.concat(expected)));
  });

  it('UploadPartCopy with CopySourceRange copies across the parts of a completed multipart object', async () => {
    const sourceParts = [randomBytes(5 * MiB), randomBytes(3 * MiB)];
    await b.multipartObject('mp-source', sourceParts);
    const source = Buffer.concat(sourceParts);
    const uploadId = await b.createUpload('from-multipart');
    const parts = [
      await b.copyPart('from-multipart', uploadId, 1, 'mp-source', `bytes=0-${5 * MiB + 10}`),
      // 4 MiB into the first part through 2 MiB into the second: one range over both segments.
      await b.copyPart('from-multipart', uploadId, 2, 'mp-source', `bytes=${4 * MiB}-${7 * MiB - 1}`),
    ];
    expect(parts[1]?.ETag).toBe(`"${md5(source.subarray(4 * MiB, 7 * MiB))}"`);
    await b.complete('from-multipart', uploadId, parts);
    const expected = Buffer.concat([source.subarray(0, 5 * MiB + 11), source.subarray(4 * MiB, 7 * MiB)]);
    expect(sha256((await b.read('from-multipart')).bytes)).toBe(sha256(expected));
    const ranged = await b.read('mp-source', `bytes=${5 * MiB - 10}-${5 * MiB + 9}`);
    expect(ranged.$metadata.httpStatusCode).toBe(206);
    expect(sha256(ranged.bytes)).toBe(sha256(source.subarray(5 * MiB - 10, 5 * MiB + 10)));
  });

  it('UploadPartCopy needs the CopySource key URL-encoded: raw, a key with spaces or + fails SignatureDoesNotMatch', async () => {
    const key = 'a b+c/ü%?#';
    await b.put(key, 'odd key');
    const uploadId = await b.createUpload('odd-copy');
    const copy = (source: string) =>
      client.send(
        new UploadPartCopyCommand({
          Bucket: b.bucket,
          Key: 'odd-copy',
          UploadId: uploadId,
          PartNumber: 1,
          CopySource: source,
          CopySourceRange: 'bytes=0-2',
        }),
      );
    expect(await failureOf(copy(`${b.bucket}/${key}`))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    const { CopyPartResult } = await copy(`${b.bucket}/${encodeURIComponent(key)}`);
    expect(CopyPartResult?.ETag).toBe(`"${md5(Buffer.from('odd'))}"`);
  });

  it('Swift deviation: UploadPartCopy without CopySourceRange lists the part with an empty ETag, so Complete needs the ETag the copy answered', async () => {
    const source = randomBytes(5 * MiB);
    await b.put('whole-source', source);
    const uploadId = await b.createUpload('whole-copy');
    const copied = await b.copyPart('whole-copy', uploadId, 1, 'whole-source');
    expect(copied.ETag).toBe(`"${md5(source)}"`);
    const tail = await b.uploadPart('whole-copy', uploadId, 2, 'x');
    const listed = (await b.listParts('whole-copy', uploadId)).Parts ?? [];
    expect(listed.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
      [1, 5 * MiB, '""'],
      [2, 1, tail.ETag],
    ]);
    const fromListing = listed.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag }));
    expect(await failureOf(b.complete('whole-copy', uploadId, fromListing))).toMatchObject({
      name: 'InvalidPart',
      status: 400,
    });
    await b.complete('whole-copy', uploadId, [copied, tail]);
    expect(sha256((await b.read('whole-copy')).bytes)).toBe(sha256(Buffer.concat([source, Buffer.from('x')])));
  });

  it('Swift deviation: a CopySourceRange past the end of the source is cut to the end, not refused', async () => {
    await b.put('short-source', 'abcdef');
    const uploadId = await b.createUpload('clamped');
    const part = await b.copyPart('clamped', uploadId, 1, 'short-source', 'bytes=2-100');
    expect(part.ETag).toBe(`"${md5(Buffer.from('cdef'))}"`);
    await b.complete('clamped', uploadId, [part]);
    expect((await b.read('clamped')).bytes.toString()).toBe('cdef');
  });

  it('Complete refuses a part under 5 MiB but the last with EntityTooSmall, and the upload survives the refusal', async () => {
    const uploadId = await b.createUpload('small-parts');
    const small = [
      await b.uploadPart('small-parts', uploadId, 1, 'abc'),
      await b.uploadPart('small-parts', uploadId, 2, 'def'),
    ];
    expect(await failureOf(b.complete('small-parts', uploadId, small))).toMatchObject({
      name: 'EntityTooSmall',
      status: 400,
    });
    expect(((await b.listParts('small-parts', uploadId)).Parts ?? []).map((p) => p.Size)).toEqual([3, 3]);
    const big = randomBytes(5 * MiB);
    await b.complete('small-parts', uploadId, [
      await b.uploadPart('small-parts', uploadId, 1, big),
      small[1] as CompletedPart,
    ]);
    expect(sha256((await b.read('small-parts')).bytes)).toBe(sha256(Buffer.concat([big, Buffer.from('def')])));
  });

  it('part numbers run from 1 to 10000 (max_upload_part_num); 0 and 10001 are InvalidArgument', async () => {
    const uploadId = await b.createUpload('numbers');
    await b.uploadPart('numbers', uploadId, 10_000, 'last');
    const invalid = { name: 'InvalidArgument', status: 400 };
    expect(await failureOf(b.uploadPart('numbers', uploadId, 10_001, 'x'))).toMatchObject(invalid);
    expect(await failureOf(b.uploadPart('numbers', uploadId, 0, 'x'))).toMatchObject(invalid);
    await abort('numbers', uploadId);
  });

  it('Swift deviation: a completed upload is application/xml unless CreateMultipartUpload set a ContentType', async () => {
    await b.multipartObject('untyped', [Buffer.from('x')]);
    const head = await client.send(new HeadObjectCommand({ Bucket: b.bucket, Key: 'untyped' }));
    expect(head.ContentType).toBe('application/xml');
  });

  it('user metadata set by CreateMultipartUpload is on the completed object', async () => {
    const create = new CreateMultipartUploadCommand({
      Bucket: b.bucket,
      Key: 'with-meta',
      Metadata: { 'tus-id': 'abc' },
    });
    const { UploadId } = await client.send(create);
    await b.complete('with-meta', UploadId as string, [await b.uploadPart('with-meta', UploadId as string, 1, 'x')]);
    const head = await client.send(new HeadObjectCommand({ Bucket: b.bucket, Key: 'with-meta' }));
    expect(head.Metadata).toEqual({ 'tus-id': 'abc' });
  });

  it('uploads in progress and their segments never show in ListObjectsV2', async () => {
    const uploadId = await b.createUpload('pending');
    await b.uploadPart('pending', uploadId, 1, 'abc');
    await b.put('plain', 'x');
    const listed = await client.send(new ListObjectsV2Command({ Bucket: b.bucket }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['plain']);
  });

  it('ListMultipartUploads with a Prefix lists exactly the uploads in progress under it', async () => {
    const first = await b.createUpload('uploads/one');
    const second = await b.createUpload('uploads/two');
    const again = await b.createUpload('uploads/one');
    await abort('uploads/aborted', await b.createUpload('uploads/aborted'));
    await b.createUpload('uploadsX');
    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: b.bucket, Prefix: 'uploads/' }));
    // Same key: ordered by upload id.
    const [early, late] = [first, again].sort();
    expect(listed.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([
      ['uploads/one', early],
      ['uploads/one', late],
      ['uploads/two', second],
    ]);
  });

  it('after AbortMultipartUpload, ListParts, UploadPart and another Abort throw NoSuchUpload (404)', async () => {
    const uploadId = await b.createUpload('aborted');
    await b.uploadPart('aborted', uploadId, 1, 'abc');
    expect((await abort('aborted', uploadId)).$metadata.httpStatusCode).toBe(204);
    const noSuchUpload = { name: 'NoSuchUpload', status: 404 };
    expect(await failureOf(b.listParts('aborted', uploadId))).toMatchObject(noSuchUpload);
    expect(await failureOf(b.uploadPart('aborted', uploadId, 2, 'x'))).toMatchObject(noSuchUpload);
    expect(await failureOf(abort('aborted', uploadId))).toMatchObject(noSuchUpload);
    expect(await failureOf(b.listParts('aborted', 'no-such-upload-id'))).toMatchObject(noSuchUpload);
  });

  it('Swift deviation: after Complete the upload lives on (ListParts lists, UploadPart accepted, Complete again 200, Abort NoSuchKey) until DeleteObject', async () => {
    const uploadId = await b.createUpload('completed');
    const parts = [
      await b.uploadPart('completed', uploadId, 1, randomBytes(5 * MiB)),
      await b.uploadPart('completed', uploadId, 2, 'end'),
    ];
    const done = await b.complete('completed', uploadId, parts);
    const before = sha256((await b.read('completed')).bytes);
    const listed = (await b.listParts('completed', uploadId)).Parts ?? [];
    expect(listed.map((p) => [p.PartNumber, p.ETag])).toEqual(parts.map((p) => [p.PartNumber, p.ETag]));
    expect((await b.complete('completed', uploadId, parts)).ETag).toBe(done.ETag);
    await b.uploadPart('completed', uploadId, 3, 'stray');
    expect(((await b.listParts('completed', uploadId)).Parts ?? []).map((p) => p.PartNumber)).toEqual([1, 2, 3]);
    expect(await failureOf(abort('completed', uploadId))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect(sha256((await b.read('completed')).bytes)).toBe(before);
    await client.send(new DeleteObjectCommand({ Bucket: b.bucket, Key: 'completed' }));
    expect(await failureOf(b.listParts('completed', uploadId))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
  });
});
