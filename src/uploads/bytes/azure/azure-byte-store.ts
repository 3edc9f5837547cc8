import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { appError } from '../../../errors/app-error.js';
import type { ByteStore, PartialBytes, StagedBytes, WriteGate, WriteOptions } from '../byte-store.js';
import { type ByteState, heldBytes } from '../parts/byte-state.js';
import { PartBody } from '../parts/part-body.js';
import { nothingStaged, stagedPiece, withPiece } from '../parts/piece.js';
import { concatenateInAzure } from './azure-concatenation.js';
import { newBlockId } from './azure-container.js';
import { AZURE_LIMITS } from './azure-limits.js';
import { fetchBlob, listUploads, probeContainer, removeUpload } from './azure-objects.js';
import { sealUpload } from './azure-seal.js';
import type { AzureByteStoreDeps } from './azure-store-deps.js';

/**
 * Bytes in an Azure Blob Storage container. The chunk grid is the block
 * grid: chunk i is received when block i of the upload's block blob
 * `<prefix><id>` is staged (Put Block) and its ID recorded in Redis (see
 * ByteStates), so HEAD never asks Azure. Bytes of a chunk received so far are
 * a tail blob `<prefix><id>.tail-<random>` until the rest arrives. A block
 * lying wholly inside a request of known length streams to Azure as it
 * arrives; once complete, the block list is committed (Put Block List) and
 * the upload is the one blob.
 */
export class AzureByteStore implements ByteStore {
  readonly limits = AZURE_LIMITS;

  constructor(private readonly deps: AzureByteStoreDeps) {}

  async create(id: string, options: { chunkSize: number }): Promise<void> {
    if (!(await this.deps.states.create(id, options.chunkSize))) throw new Error(`upload ${id} already has bytes`);
  }

  async write(stream: Readable, id: string, offset: number, options: WriteOptions = {}): Promise<number> {
    const staged = await this.stage(stream, id, offset, options);
    await staged.commit();
    return staged.end;
  }

  /**
   * Sends one piece (never past a chunk boundary) to Azure: a block when it
   * ends a chunk (or the upload), else a tail blob. Its bytes count only once
   * `commit` records them; a piece whose body ends short stores nothing
   * (Azure takes a block whole or not at all), so the offset stays at what is
   * durable and the client sends those bytes again.
   */
  async stage(stream: Readable, id: string, offset: number, options: WriteOptions = {}): Promise<StagedBytes> {
    return withPiece(this.deps, stream, id, offset, options.length, (piece) => {
      const { state, n, within, source, length, completesPart, size } = piece;
      // The whole upload in this one request, and no block staged yet: one Put Blob of the final blob.
      const whole = offset === 0 && offset + length === size && state.partCount === 0 && length <= state.partSize;
      const as = whole ? { whole } : completesPart ? {} : { tail: this.tailName(id) };
      return this.send(id, state, n, within, source, length, as, options.guard);
    });
  }

  private async send(
    id: string,
    state: ByteState,
    n: number,
    within: number,
    source: AsyncIterable<Buffer>,
    length: number,
    as: { tail?: string; whole?: boolean },
    guard: WriteGate | undefined,
  ): Promise<StagedBytes> {
    const { container, states } = this.deps;
    const offset = (n - 1) * state.partSize + within;
    const blobName = as.whole ? container.blobName(id) : as.tail;
    const blockId = blobName ? '' : newBlockId();
    const body = new PartBody(within + length, container.settings.requestTimeoutMs, (b) =>
      container.traffic('sent', b),
    );
    const options = { abortSignal: body.signal };
    const sending: Promise<{ etag?: string }> = blobName
      ? container.blob(blobName, true).upload(body, body.length, options)
      : container
          .blob(container.blobName(id), true)
          .stageBlock(blockId, body, body.length, options)
          .then(() => ({}));
    // Azure refusing the call (a 403, a reset) ends the body at once: no waiting for the stall watch.
    let refused: unknown;
    sending.catch((error: unknown) => {
      refused = error;
      body.abort(error as Error);
    });
    try {
      // The tail already held is the start of this block: it goes first, from Azure back to Azure.
      if (within > 0 && state.tail) await body.feed(container.read(state.tail.key));
      await body.feed(source);
      body.finish();
    } catch (error) {
      body.abort(error as Error);
      if (refused !== undefined && !body.endedShort) throw container.failed(refused, blobName ? 'PutBlob' : 'PutBlock');
      // Azure that stops taking bytes is Azure unavailable, whichever side noticed first.
      throw body.stalled ? appError('STORAGE_UNAVAILABLE') : error;
    }
    let etag: string;
    try {
      etag = (await sending).etag ?? '';
    } catch (error) {
      if (body.endedShort && !body.stalled) return nothingStaged(offset);
      throw body.stalled ? appError('STORAGE_UNAVAILABLE') : container.failed(error, blobName ? 'PutBlob' : 'PutBlock');
    } finally {
      body.settled();
    }
    // A staged block that is never recorded is dropped by Azure at the commit of the block list.
    const sent = { n, end: offset + length, bytes: body.length, whole: !!as.whole, tail: as.tail, etag };
    return stagedPiece(states, id, { ...sent, partId: blockId, written: blobName }, guard, (name) =>
      container.removeQuietly(name),
    );
  }

  seal(id: string): Promise<void> {
    return sealUpload(this.deps, id);
  }

  read(id: string): Readable {
    const { container } = this.deps;
    return Readable.from(container.read(container.blobName(id)));
  }

  fetch: ByteStore['fetch'] = (id, conditions) => fetchBlob(this.deps, id, conditions);

  concatenate(id: string, partials: readonly PartialBytes[], recorded: (end: number) => Promise<void>) {
    return concatenateInAzure(this.deps, id, partials, recorded);
  }

  async truncate(id: string, length: number): Promise<number> {
    const state = await this.deps.states.read(id);
    if (!state || state.sealed) return state ? heldBytes(state) : 0;
    const { held, dropped } = await this.deps.states.truncate(id, length, state.partSize);
    if (dropped) await this.deps.container.removeQuietly(dropped);
    return held;
  }

  remove(id: string): Promise<boolean> {
    return removeUpload(this.deps, id);
  }

  async bytesStored(id: string): Promise<number | undefined> {
    const state = await this.deps.states.read(id);
    return state && heldBytes(state);
  }

  list(): AsyncIterable<{ id: string; modifiedAt: number }> {
    return listUploads(this.deps.container);
  }

  location(id: string): string {
    return this.deps.container.url(this.deps.container.blobName(id));
  }

  probe(): Promise<string> {
    return probeContainer(this.deps.container, false);
  }

  async start(): Promise<void> {
    const { container } = this.deps;
    const problem = await probeContainer(container, true);
    if (problem !== 'ok') {
      const where = container.url('').replace(/\/$/, '');
      throw new Error(
        `AZURE_CONTAINER: cannot write to container "${container.settings.container}" at ${where}: ${problem}`,
      );
    }
  }

  private tailName(id: string): string {
    return `${this.deps.container.blobName(id)}.tail-${randomUUID()}`;
  }
}
