import { Readable } from 'node:stream';

/**
 * The body of one object-store request (an S3 part, an Azure block, or a
 * tail object) of a known length, fed from the PATCH as its bytes arrive:
 * nothing is buffered beyond the stream's own high-water mark, so memory
 * stays bounded per request.
 *
 * It watches the store, not the client: a client may pause as long as it
 * likes, but once bytes wait for the store to take them (it does not read)
 * for `stallMs`, the call is aborted; so is one whose answer does not come
 * `stallMs` after the last byte. A paused server may still accept
 * connections, so only such a timeout ends the call. `aborted` fires with the
 * reason.
 */
export class PartBody extends Readable {
  private sent = 0;
  private waiting: { resolve: () => void; reject: (reason: unknown) => void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly controller = new AbortController();

  constructor(
    readonly length: number,
    private readonly stallMs: number,
    /** Bytes sent to the store, as they go (for the metrics). */
    private readonly counted: (bytes: number) => void = () => {},
  ) {
    super({ highWaterMark: 256 * 1024 });
  }

  /** Aborted when the store stalls, or when the feed ends short of `length`: pass it to the SDK call. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Bytes taken so far. */
  get fed(): number {
    return this.sent;
  }

  /** Takes `source` in, up to what is left of `length`; resolves to how many bytes it took. */
  async feed(source: AsyncIterable<Buffer>): Promise<number> {
    let taken = 0;
    for await (const data of source) {
      const piece = data.subarray(0, this.length - this.sent);
      if (piece.length > 0) await this.push1(piece);
      taken += piece.length;
      if (this.sent === this.length) break;
    }
    return taken;
  }

  /** Whether the feed ended before `length` bytes (the call was aborted for it). */
  endedShort = false;
  /** Whether the store stalled (took no bytes, or did not answer, for `stallMs`): the call was aborted for it. */
  stalled = false;

  /** No more bytes: ends the body if it is whole, else aborts the call (the store would wait for the rest). */
  finish(): void {
    if (this.sent < this.length) {
      this.endedShort = true;
      this.abort(new Error(`the body ended after ${this.sent} of ${this.length} bytes`));
      return;
    }
    this.push(null);
    this.arm('no answer from the object store after the last byte');
  }

  abort(reason: Error): void {
    clearTimeout(this.timer);
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    this.waiting?.reject(reason);
    this.waiting = undefined;
    this.destroy();
  }

  /** The call is answered: no more watching. */
  settled(): void {
    clearTimeout(this.timer);
  }

  override _read(): void {
    clearTimeout(this.timer);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve();
  }

  private async push1(piece: Buffer): Promise<void> {
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
    this.sent += piece.length;
    this.counted(piece.length);
    if (this.push(piece)) return;
    // The store has not taken what it was given: wait for it to read, but not forever.
    this.arm('the object store took no bytes');
    await new Promise<void>((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  private arm(what: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.stalled = true;
      const error = new Error(`${what} for ${this.stallMs} ms`);
      error.name = 'TimeoutError';
      this.abort(error);
    }, this.stallMs);
    this.timer.unref();
  }
}
