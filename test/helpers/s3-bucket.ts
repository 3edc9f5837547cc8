import {
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';

export type BucketCalls = ReturnType<typeof bucketCalls>;

/** The S3 calls the Swift tests make, short, all in one bucket. */
export function bucketCalls(client: S3Client, bucket: string) {
  const uploadPart = async (key: string, uploadId: string, partNumber: number, body: Buffer | string) => {
    const part = new UploadPartCommand({
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      Body: body,
    });
    const { ETag } = await client.send(part);
    return { PartNumber: partNumber, ETag } as CompletedPart;
  };
  const complete = (key: string, uploadId: string, parts: CompletedPart[]) =>
    client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  const createUpload = async (key: string, contentType?: string) => {
    const created = await client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }),
    );
    return created.UploadId as string;
  };
  return {
    bucket,
    put: (key: string, body: Buffer | string) =>
      client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })),
    async read(key: string, range?: string) {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
      const body = got.Body as { transformToByteArray(): Promise<Uint8Array> };
      return { ...got, bytes: Buffer.from(await body.transformToByteArray()) };
    },
    createUpload,
    uploadPart,
    async copyPart(key: string, uploadId: string, partNumber: number, source: string, range?: string) {
      const { CopyPartResult } = await client.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          CopySource: `${bucket}/${source}`,
          CopySourceRange: range,
        }),
      );
      return { PartNumber: partNumber, ETag: CopyPartResult?.ETag } as CompletedPart;
    },
    complete,
    listParts: (key: string, uploadId: string) =>
      client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId })),
    /** A completed upload of `parts` (each but the last at least 5 MiB). */
    async multipartObject(key: string, parts: Buffer[]) {
      const uploadId = await createUpload(key);
      const done: CompletedPart[] = [];
      for (const [i, part] of parts.entries()) done.push(await uploadPart(key, uploadId, i + 1, part));
      await complete(key, uploadId, done);
    },
  };
}

/** The error a call failed with, as the SDK names it; throws if the call succeeded. */
export async function failureOf(
  promise: Promise<unknown>,
): Promise<{ name: string; status?: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected the call to fail');
}
