import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { md5 } from '../helpers/bytes.js';
import { sha256 } from '../helpers/digest.js';
import { freshBucket, s3Client } from '../helpers/s3.js';
import { type BucketCalls, bucketCalls, failureOf } from '../helpers/s3-bucket.js';
import { type SwiftProxy, startSwiftProxy } from '../helpers/swift.js';

const MiB = 1024 * 1024;
const s3 = inject('s3');
let client: S3Client;
let b: BucketCalls;

beforeAll(() => {
  client = s3Client(s3);
});
beforeEach(async () => {
  b = bucketCalls(client, await freshBucket(client));
});

const remove = (key: string) => client.send(new DeleteObjectCommand({ Bucket: b.bucket, Key: key }));

describe('Swift s3api objects through @aws-sdk/client-s3', () => {
  it('PutObject, GetObject and HeadObject round-trip the bytes; the ETag is their MD5', async () => {
    const data = randomBytes(MiB + 7);
    expect((await b.put('plain', data)).ETag).toBe(`"${md5(data)}"`);
    expect(sha256((await b.read('plain')).bytes)).toBe(sha256(data));
    const head = await client.send(new HeadObjectCommand({ Bucket: b.bucket, Key: 'plain' }));
    expect({ length: head.ContentLength, etag: head.ETag }).toEqual({ length: data.length, etag: `"${md5(data)}"` });
  });

  it('GetObject with a Range answers 206 with exactly those bytes; a range past the end is InvalidRange (416)', async () => {
    const data = randomBytes(3 * MiB);
    await b.put('ranged', data);
    const got = await b.read('ranged', `bytes=${MiB}-${2 * MiB + 10}`);
    expect({ status: got.$metadata.httpStatusCode, range: got.ContentRange }).toEqual({
      status: 206,
      range: `bytes ${MiB}-${2 * MiB + 10}/${3 * MiB}`,
    });
    expect(sha256(got.bytes)).toBe(sha256(data.subarray(MiB, 2 * MiB + 11)));
    const tail = await b.read('ranged', `bytes=${3 * MiB - 5}-`);
    expect(sha256(tail.bytes)).toBe(sha256(data.subarray(3 * MiB - 5)));
    const past = await failureOf(b.read('ranged', `bytes=${3 * MiB}-${3 * MiB + 1}`));
    expect(past).toMatchObject({ name: 'InvalidRange', status: 416 });
  });

  it('a missing key: GetObject throws NoSuchKey (404), HeadObject throws NotFound (404, no body to name it)', async () => {
    expect(await failureOf(b.read('missing'))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    const head = client.send(new HeadObjectCommand({ Bucket: b.bucket, Key: 'missing' }));
    expect(await failureOf(head)).toMatchObject({ name: 'NotFound', status: 404 });
  });

  it('ListObjectsV2 with a Prefix lists exactly the objects under it, in key order, paged by continuation token', async () => {
    for (const key of ['list/b', 'list/a', 'list/c/d', 'lister']) await b.put(key, key);
    await b.multipartObject('list/multi', [randomBytes(5 * MiB), Buffer.from('tail')]);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: b.bucket, Prefix: 'list/' }));
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([
      ['list/a', 6],
      ['list/b', 6],
      ['list/c/d', 8],
      ['list/multi', 5 * MiB + 4],
    ]);
    expect(listed.KeyCount).toBe(4);
    const page = { Bucket: b.bucket, Prefix: 'list/', MaxKeys: 2 };
    const first = await client.send(new ListObjectsV2Command(page));
    expect(first.IsTruncated).toBe(true);
    const rest = await client.send(
      new ListObjectsV2Command({ ...page, ContinuationToken: first.NextContinuationToken }),
    );
    expect(rest.IsTruncated).toBe(false);
    expect([...(first.Contents ?? []), ...(rest.Contents ?? [])].map((o) => o.Key)).toEqual(
      listed.Contents?.map((o) => o.Key),
    );
  });

  it('DeleteObject removes a key (204) and answers 204 for a missing one too', async () => {
    await b.put('doomed', 'x');
    expect((await remove('doomed')).$metadata.httpStatusCode).toBe(204);
    expect(await failureOf(b.read('doomed'))).toMatchObject({ name: 'NoSuchKey' });
    expect((await remove('doomed')).$metadata.httpStatusCode).toBe(204);
  });

  it('DeleteObjects works with the Content-MD5 middleware (missing keys reported Deleted); without it Swift answers InvalidRequest', async () => {
    for (const key of ['many/1', 'many/2', 'many/3']) await b.put(key, key);
    const objects = [{ Key: 'many/1' }, { Key: 'many/2' }, { Key: 'many/missing' }];
    const deleted = await client.send(new DeleteObjectsCommand({ Bucket: b.bucket, Delete: { Objects: objects } }));
    expect(deleted.Deleted?.map((d) => d.Key).sort()).toEqual(['many/1', 'many/2', 'many/missing']);
    expect(deleted.Errors ?? []).toEqual([]);
    const left = await client.send(new ListObjectsV2Command({ Bucket: b.bucket, Prefix: 'many/' }));
    expect(left.Contents?.map((o) => o.Key)).toEqual(['many/3']);

    const plain = s3Client(s3);
    plain.middlewareStack.remove('contentMd5ForSwift');
    const one = new DeleteObjectsCommand({ Bucket: b.bucket, Delete: { Objects: [{ Key: 'many/3' }] } });
    expect(await failureOf(plain.send(one))).toMatchObject({
      name: 'InvalidRequest',
      status: 400,
      message: 'Missing required header for this request: Content-MD5',
    });
  });

  it('Swift deviation: PutObject and UploadPart take a stream without ContentLength (sent chunked)', async () => {
    const unsized = () => Readable.from([Buffer.from('ab'), Buffer.from('cd')]);
    await client.send(new PutObjectCommand({ Bucket: b.bucket, Key: 'unsized', Body: unsized() }));
    expect((await b.read('unsized')).bytes.toString()).toBe('abcd');
    const uploadId = await b.createUpload('unsized-part');
    const part = { Bucket: b.bucket, Key: 'unsized-part', UploadId: uploadId, PartNumber: 1, Body: unsized() };
    await client.send(new UploadPartCommand(part));
    expect((await b.listParts('unsized-part', uploadId)).Parts?.map((p) => p.Size)).toEqual([4]);
  });

  it('Swift deviation: conditional PutObject (IfNoneMatch, IfMatch) is NotImplemented (501) and writes nothing', async () => {
    const create = client.send(new PutObjectCommand({ Bucket: b.bucket, Key: 'cond', Body: 'x', IfNoneMatch: '*' }));
    expect(await failureOf(create)).toMatchObject({ name: 'NotImplemented', status: 501 });
    expect(await failureOf(b.read('cond'))).toMatchObject({ name: 'NoSuchKey' });
    await b.put('cond', 'x');
    const replace = client.send(
      new PutObjectCommand({ Bucket: b.bucket, Key: 'cond', Body: 'y', IfMatch: `"${md5(Buffer.from('x'))}"` }),
    );
    expect(await failureOf(replace)).toMatchObject({ name: 'NotImplemented', status: 501 });
    expect((await b.read('cond')).bytes.toString()).toBe('x');
  });

  it('user metadata set by PutObject comes back from HeadObject', async () => {
    await client.send(
      new PutObjectCommand({ Bucket: b.bucket, Key: 'meta', Body: 'x', Metadata: { 'tus-offset': '42' } }),
    );
    const head = await client.send(new HeadObjectCommand({ Bucket: b.bucket, Key: 'meta' }));
    expect(head.Metadata).toEqual({ 'tus-offset': '42' });
  });

  it('Swift deviation: the SDK defaults (aws-chunked streaming) are NotImplemented (501); so is object tagging', async () => {
    const defaults = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      forcePathStyle: true,
    });
    const body = Readable.from([Buffer.from('hi')]);
    const streamed = defaults.send(
      new PutObjectCommand({ Bucket: b.bucket, Key: 'chunked', Body: body, ContentLength: 2 }),
    );
    expect(await failureOf(streamed)).toMatchObject({ name: 'NotImplemented', status: 501 });
    const tagged = client.send(new PutObjectCommand({ Bucket: b.bucket, Key: 'tagged', Body: 'x', Tagging: 'a=b' }));
    expect(await failureOf(tagged)).toMatchObject({ name: 'NotImplemented', status: 501 });
  });
});

describe('an SDK call to a stopped (SIGSTOP) proxy', () => {
  let proxy: SwiftProxy;
  beforeAll(async () => {
    proxy = await startSwiftProxy({ dir: s3.swiftDir });
  });
  afterEach(() => {
    process.kill(proxy.pid, 'SIGCONT');
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  /** A HeadObject through the own proxy, stopped after a first call connected: its error and how long it took. */
  /** `abortAfterMs` starts when the stalled call does: a signal made before the setup would fire early on a busy machine. */
  async function stalled(config: S3ClientConfig, abortAfterMs?: number) {
    const stoppable = s3Client({ ...s3, endpoint: proxy.endpoint }, config);
    const head = new HeadObjectCommand({ Bucket: b.bucket, Key: 'k' });
    await stoppable.send(head).catch(() => {});
    process.kill(proxy.pid, 'SIGSTOP');
    const started = performance.now();
    const abortSignal = abortAfterMs === undefined ? undefined : AbortSignal.timeout(abortAfterMs);
    try {
      const error = await failureOf(stoppable.send(head, { abortSignal }));
      return { ...error, ms: performance.now() - started };
    } finally {
      stoppable.destroy();
    }
  }

  it('requestTimeout with throwOnRequestTimeout fails with TimeoutError once every attempt timed out', async () => {
    const handler = { requestTimeout: 500, throwOnRequestTimeout: true };
    const failed = await stalled({ maxAttempts: 2, requestHandler: handler });
    expect(failed.name).toBe('TimeoutError');
    expect(failed.message).toContain('exceeded the configured 500 ms requestTimeout');
    expect(failed.ms).toBeGreaterThanOrEqual(1000);
    expect(failed.ms).toBeLessThan(2500);
  });

  it('an AbortSignal fails with AbortError when it fires, with no retry', async () => {
    const failed = await stalled({}, 700);
    expect(failed.name).toBe('AbortError');
    expect(failed.ms).toBeGreaterThanOrEqual(650);
    expect(failed.ms).toBeLessThan(1500);
  });

  it('requestTimeout alone only logs a warning: the call still hangs until something else ends it', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const failed = await stalled({ requestHandler: { requestTimeout: 300, logger } }, 1500);
    expect(failed.name).toBe('AbortError');
    expect(failed.ms).toBeGreaterThanOrEqual(1400);
    expect(warnings).toEqual([expect.stringContaining('exceeded the configured 300 ms requestTimeout')]);
  });
});

describe('startSwiftProxy', () => {
  it("on a taken port fails with the proxy's own words and leaves no process behind", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    try {
      const failed = await failureOf(startSwiftProxy({ dir: s3.swiftDir, port }));
      expect(failed.message).toContain(`Swift proxy did not start on port ${port}`);
      expect(failed.message).toContain(`Could not bind to 127.0.0.1:${port}`);
    } finally {
      holder.close();
    }
    const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
    const commands = await Promise.all(pids.map((p) => readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')));
    expect(commands.filter((c) => c.includes(`proxy-${port}.conf`))).toEqual([]);
  });
});
