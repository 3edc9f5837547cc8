import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandInput,
  type GetObjectCommandOutput,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Logger } from '../../../log.js';
import type { StorageTraffic } from '../byte-store.js';
import { fromS3Error, type S3Settings, s3ErrorName } from './s3-client.js';

/** Any of the SDK's commands (its types are generic per command; the caller names the output it expects). */
type Command = { readonly input: object };
type Send = (command: Command, options: { abortSignal: AbortSignal }) => Promise<unknown>;

/**
 * One bucket and key prefix, as the S3 byte store uses them: every call
 * bounded by S3_REQUEST_TIMEOUT_MS (retries included) and its failure mapped
 * (503 when S3 is slow or unreachable), keys built in one place.
 */
export class S3Bucket {
  constructor(
    readonly client: S3Client,
    readonly settings: S3Settings,
    readonly logger: Logger,
    readonly traffic: StorageTraffic,
  ) {}

  get name(): string {
    return this.settings.bucket;
  }

  /** The object (and multipart upload) holding upload `id`: `<S3_KEY_PREFIX><id>`. */
  key(id: string): string {
    return `${this.settings.keyPrefix}${id}`;
  }

  /** The `CopySource` of a key of this bucket (URL-encoded, as S3 requires). */
  copySource(key: string): string {
    return `${this.settings.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  private sendRaw(command: Command, abortSignal: AbortSignal): Promise<unknown> {
    return (this.client.send as unknown as Send).call(this.client, command, { abortSignal });
  }

  /** Sends a command, bounded by `timeoutMs` (the setting by default) or `signal`. */
  async send<T>(
    what: string,
    command: Command,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    const signal = options.signal ?? AbortSignal.timeout(options.timeoutMs ?? this.settings.requestTimeoutMs);
    try {
      return (await this.sendRaw(command, signal)) as T;
    } catch (error) {
      throw fromS3Error(error, what, this.logger);
    }
  }

  /** Like send, but `undefined` when S3 answers that the key or upload does not exist. */
  async sendUnlessMissing<T>(
    what: string,
    command: Command,
    timeoutMs = this.settings.requestTimeoutMs,
  ): Promise<T | undefined> {
    try {
      return (await this.sendRaw(command, AbortSignal.timeout(timeoutMs))) as T;
    } catch (error) {
      const name = s3ErrorName(error);
      if (name === 'NoSuchKey' || name === 'NoSuchUpload' || name === 'NotFound') return undefined;
      throw fromS3Error(error, what, this.logger);
    }
  }

  /**
   * GetObject: S3's answer, and its bytes as they arrive, counted as read.
   * The call is bounded until S3 answers; then each wait for more bytes is
   * (a stalled body is cut off, not waited on forever). S3's own error is
   * thrown as it is (a caller may map 304, 412 or 416).
   */
  async getObject(
    input: Omit<GetObjectCommandInput, 'Bucket'>,
  ): Promise<{ reply: GetObjectCommandOutput; bytes: AsyncGenerator<Buffer> }> {
    const controller = new AbortController();
    const idleMs = this.settings.requestTimeoutMs;
    const stall = () => controller.abort(new Error(`no bytes from S3 for ${idleMs} ms`));
    let timer = setTimeout(stall, idleMs);
    let reply: GetObjectCommandOutput;
    try {
      reply = await this.client.send(new GetObjectCommand({ Bucket: this.name, ...input }), {
        abortSignal: controller.signal,
      });
    } catch (error) {
      clearTimeout(timer);
      throw error;
    }
    const traffic = this.traffic;
    async function* bytes() {
      try {
        for await (const chunk of reply.Body as AsyncIterable<Buffer>) {
          // Only S3 is timed, not the reader: a paused download is not S3 stalling.
          clearTimeout(timer);
          traffic('read', chunk.length);
          yield chunk;
          timer = setTimeout(stall, idleMs);
        }
      } finally {
        clearTimeout(timer);
      }
    }
    return { reply, bytes: bytes() };
  }

  /** An object's bytes as they arrive (see getObject); a failure is mapped like any call's. */
  async *readObject(input: Omit<GetObjectCommandInput, 'Bucket'>): AsyncGenerator<Buffer> {
    let bytes: AsyncGenerator<Buffer>;
    try {
      ({ bytes } = await this.getObject(input));
    } catch (error) {
      throw fromS3Error(error, 'GetObject', this.logger);
    }
    yield* bytes;
  }

  /** Deletes a key, logging instead of failing (what is left is found again by the sweeper). */
  async deleteQuietly(key: string): Promise<void> {
    try {
      await this.send('DeleteObject', new DeleteObjectCommand({ Bucket: this.name, Key: key }));
    } catch (error) {
      this.logger.warn({ err: error, key }, 'could not delete an S3 object; the sweeper will find it');
    }
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    await this.sendUnlessMissing(
      'AbortMultipartUpload',
      new AbortMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId }),
    );
  }

  /** Every object whose key starts with `prefix`, with when it was last written. */
  async *objects(prefix: string): AsyncGenerator<{ key: string; modifiedAt: number }> {
    let token: string | undefined;
    do {
      const page = await this.send<{
        Contents?: Array<{ Key?: string; LastModified?: Date }>;
        NextContinuationToken?: string;
      }>('ListObjectsV2', new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        if (o.Key) yield { key: o.Key, modifiedAt: o.LastModified?.getTime() ?? 0 };
      }
      token = page.NextContinuationToken;
    } while (token);
  }

  /** Every multipart upload in progress whose key starts with `prefix`, with when it began. */
  async *uploads(prefix: string): AsyncGenerator<{ key: string; uploadId: string; startedAt: number }> {
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const page = await this.send<{
        Uploads?: Array<{ Key?: string; UploadId?: string; Initiated?: Date }>;
        IsTruncated?: boolean;
        NextKeyMarker?: string;
        NextUploadIdMarker?: string;
      }>(
        'ListMultipartUploads',
        new ListMultipartUploadsCommand({
          Bucket: this.name,
          Prefix: prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: idMarker,
        }),
      );
      for (const u of page.Uploads ?? []) {
        if (u.Key && u.UploadId) yield { key: u.Key, uploadId: u.UploadId, startedAt: u.Initiated?.getTime() ?? 0 };
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
  }
}
