import { randomBytes } from 'node:crypto';
import {
  BlobSASPermissions,
  type BlockBlobClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import type { Logger } from '../../../log.js';
import type { StorageTraffic } from '../byte-store.js';
import { type AzureClients, type AzureSettings, azureCode, fromAzureError } from './azure-client.js';

/** A blob of the container, as listed: committed, or only staged blocks (never committed). */
export type ListedBlob = Readonly<{ name: string; modifiedAt: number }>;

/** How long a source URL made for a copy inside Azure (Put Block From URL) may be used. */
const SOURCE_URL_TTL_MS = 60 * 60 * 1000;

/** A new block ID: random, and of one length (Azure requires every block ID of a blob to have the same length). */
export const newBlockId = (): string => randomBytes(16).toString('base64');

/**
 * One container and blob prefix, as the Azure byte store uses them: every
 * call bounded by AZURE_REQUEST_TIMEOUT_MS (retries included) and its failure
 * mapped (503 when Azure is slow or unreachable), names built in one place.
 */
export class AzureContainer {
  constructor(
    readonly clients: AzureClients,
    readonly settings: AzureSettings,
    readonly logger: Logger,
    readonly traffic: StorageTraffic,
  ) {}

  /** The blob holding upload `id`: `<AZURE_BLOB_PREFIX><id>`. */
  blobName(id: string): string {
    return `${this.settings.blobPrefix}${id}`;
  }

  /** A blob, for calls that may be retried (`streams`: for one that carries a request's body). */
  blob(name: string, streams = false): BlockBlobClient {
    return (streams ? this.clients.streams : this.clients.calls).getBlockBlobClient(name);
  }

  /** A blob's URL as people and other systems name it (no SAS). */
  url(name: string): string {
    const url = new URL(this.blob(name).url);
    url.search = '';
    return url.toString();
  }

  /** A call bounded by `timeoutMs` (the setting by default); its failure mapped (see fromAzureError). */
  async call<T>(what: string, run: (abortSignal: AbortSignal) => Promise<T>, timeoutMs?: number): Promise<T> {
    try {
      return await run(AbortSignal.timeout(timeoutMs ?? this.settings.requestTimeoutMs));
    } catch (error) {
      throw fromAzureError(error, what, this.logger);
    }
  }

  /** A failed call's error, mapped (see fromAzureError). */
  failed(error: unknown, what: string): Error {
    return fromAzureError(error, what, this.logger);
  }

  /** The URL Azure reads a blob of this container from, in a copy inside Azure: with a read-only SAS. */
  sourceUrl(name: string): string {
    const blob = this.blob(name);
    const credential = blob.credential;
    if (!(credential instanceof StorageSharedKeyCredential)) return blob.url; // its SAS is in the URL already
    const sas = generateBlobSASQueryParameters(
      {
        containerName: this.settings.container,
        blobName: name,
        permissions: BlobSASPermissions.parse('r'),
        startsOn: new Date(Date.now() - 5 * 60 * 1000),
        expiresOn: new Date(Date.now() + SOURCE_URL_TTL_MS),
      },
      credential,
    );
    return `${blob.url}?${sas.toString()}`;
  }

  /** A watch on one download, bounded by AZURE_REQUEST_TIMEOUT_MS of silence from Azure (see Stall). */
  stall(): Stall {
    return new Stall(this.settings.requestTimeoutMs);
  }

  /**
   * A download's bytes as they arrive, counted as read. The stall watch runs
   * only while this waits for Azure, never while the reader takes its time
   * (a paused browser download is not Azure stalling).
   */
  async *relay(body: NodeJS.ReadableStream | undefined, stall: Stall): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of (body ?? []) as AsyncIterable<Buffer>) {
        stall.disarm();
        this.traffic('read', chunk.length);
        yield chunk;
        stall.arm();
      }
    } finally {
      stall.disarm();
    }
  }

  /** A blob's bytes (from `offset`, `count` of them) as they arrive (see relay). */
  async *read(name: string, offset = 0, count?: number): AsyncGenerator<Buffer> {
    const stall = this.stall();
    let body: NodeJS.ReadableStream | undefined;
    try {
      body = (await this.blob(name).download(offset, count, { abortSignal: stall.signal })).readableStreamBody;
    } catch (error) {
      stall.disarm();
      throw fromAzureError(error, 'GetBlob', this.logger);
    }
    yield* this.relay(body, stall);
  }

  /**
   * Removes a blob, and the blocks staged for it: a blob that has only
   * uncommitted blocks does not exist for Delete Blob, so they are committed
   * as an empty blob first. False when there was nothing.
   */
  async remove(name: string): Promise<boolean> {
    const remove = () => this.call('DeleteBlob', (abortSignal) => this.blob(name).deleteIfExists({ abortSignal }));
    if ((await remove()).succeeded) return true;
    const staged = await this.call('GetBlockList', async (abortSignal) => {
      try {
        return (await this.blob(name).getBlockList('uncommitted', { abortSignal })).uncommittedBlocks?.length ?? 0;
      } catch (error) {
        if (azureCode(error) === 'BlobNotFound') return 0;
        throw error;
      }
    });
    if (staged === 0) return false;
    await this.call('PutBlockList', (abortSignal) => this.blob(name).commitBlockList([], { abortSignal }));
    await remove();
    return true;
  }

  /** Removes a blob, logging instead of failing (what is left is found again by the sweeper). */
  async removeQuietly(name: string): Promise<void> {
    try {
      await this.remove(name);
    } catch (error) {
      this.logger.warn({ err: error, blob: name }, 'could not delete an Azure blob; the sweeper will find it');
    }
  }

  /** Every blob whose name starts with `prefix`, those with only staged blocks included. */
  async *blobs(prefix: string): AsyncGenerator<ListedBlob> {
    let continuationToken: string | undefined;
    do {
      const page = await this.call('ListBlobs', async (abortSignal) => {
        const pages = this.clients.calls
          .listBlobsFlat({ prefix, includeUncommitedBlobs: true, abortSignal })
          .byPage({ continuationToken, maxPageSize: 1000 });
        return (await pages.next()).value;
      });
      for (const blob of page?.segment.blobItems ?? []) {
        yield { name: blob.name, modifiedAt: blob.properties.lastModified?.getTime() ?? 0 };
      }
      continuationToken = page?.continuationToken || undefined;
    } while (continuationToken);
  }
}

/** Aborts a download once Azure has sent nothing for `ms` while it was awaited (armed at once). */
export class Stall {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {
    this.arm();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(new Error(`no bytes from Azure for ${this.ms} ms`)), this.ms);
  }

  disarm(): void {
    clearTimeout(this.timer);
  }
}
