import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * SHA-256 of an upload computed on a worker thread while its bytes stream in,
 * so that hashing (about a millisecond per MB) does not hold up the thread
 * that receives and writes them. Bytes are copied into 1 MiB batches and
 * handed over; at most `MAX_IN_FLIGHT` bytes wait for the worker before
 * `update` makes the caller wait (so memory stays bounded).
 */
const BATCH_BYTES = 1024 * 1024;
const MAX_IN_FLIGHT = 16 * 1024 * 1024;

// Plain JavaScript run with { eval: true }, so it works the same from dist/ and from sources under test.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'start') hashes.set(m.key, createHash('sha256'));
  else if (m.op === 'update') {
    hashes.get(m.key)?.update(new Uint8Array(m.data, 0, m.length));
    parentPort.postMessage({ op: 'ack', data: m.data, length: m.length }, [m.data]);
  } else if (m.op === 'digest') {
    const hash = hashes.get(m.key);
    hashes.delete(m.key);
    parentPort.postMessage({ op: 'digest', key: m.key, hex: hash ? hash.digest('hex') : null });
  } else if (m.op === 'drop') hashes.delete(m.key);
});
`;

type Message = { op: 'ack'; data: ArrayBuffer; length: number } | { op: 'digest'; key: number; hex: string | null };

export class BackgroundDigests {
  private worker: Worker | undefined;
  private nextKey = 0;
  private inFlight = 0;
  /** Batch buffers back from the worker, reused: fresh memory for every MiB costs page faults. */
  private readonly spare: ArrayBuffer[] = [];
  private readonly waitingForRoom: Array<() => void> = [];
  private readonly waitingForDigest = new Map<number, (hex: string | null) => void>();

  start(): DigestHandle {
    return new DigestHandle(this, this.nextKey++);
  }

  /** @internal The worker starts a hash for `key` (at its first full batch). */
  open(key: number): void {
    this.post({ op: 'start', key });
  }

  /** @internal A buffer for one batch. */
  batchBuffer(): Buffer {
    return Buffer.from(this.spare.pop() ?? new ArrayBuffer(BATCH_BYTES));
  }

  /** @internal Hands the first `length` bytes of a batch buffer (which it then no longer owns) to the worker. */
  send(key: number, batch: Buffer, length: number): Promise<void> | undefined {
    const data = batch.buffer as ArrayBuffer;
    this.inFlight += length;
    this.post({ op: 'update', key, data, length }, [data]);
    if (this.inFlight <= MAX_IN_FLIGHT) return undefined;
    return new Promise((resolve) => this.waitingForRoom.push(resolve));
  }

  /** @internal */
  digest(key: number): Promise<string | null> {
    return new Promise((resolve) => {
      this.waitingForDigest.set(key, resolve);
      this.post({ op: 'digest', key });
    });
  }

  /** @internal */
  drop(key: number): void {
    this.post({ op: 'drop', key });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private post(message: object, transfer: ArrayBuffer[] = []): void {
    this.workerThread().postMessage(message, transfer);
  }

  private workerThread(): Worker {
    if (!this.worker) {
      this.worker = new Worker(WORKER_SOURCE, { eval: true });
      this.worker.unref();
      this.worker.on('message', (m: Message) => this.receive(m));
    }
    return this.worker;
  }

  private receive(m: Message): void {
    if (m.op === 'ack') {
      this.inFlight -= m.length;
      if (this.spare.length < MAX_IN_FLIGHT / BATCH_BYTES) this.spare.push(m.data);
      while (this.inFlight <= MAX_IN_FLIGHT && this.waitingForRoom.length > 0) this.waitingForRoom.shift()?.();
      return;
    }
    this.waitingForDigest.get(m.key)?.(m.hex);
    this.waitingForDigest.delete(m.key);
  }
}

/**
 * The digest of one sequence of bytes. Until a first batch is full, nothing
 * goes to the worker: the bytes are kept (copied) here, and a small upload is
 * hashed on the spot from them, without a 1 MiB buffer of its own. After
 * that, bytes are copied straight into batch buffers.
 */
export class DigestHandle {
  private held: Buffer[] = [];
  private batch: Buffer | undefined;
  private used = 0;
  private opened = false;

  constructor(
    private readonly digests: BackgroundDigests,
    private readonly key: number,
  ) {}

  /** Feeds bytes; the promise, when there is one, says to wait before feeding more. */
  update(data: Buffer): Promise<void> | undefined {
    let waiting: Promise<void> | undefined;
    let rest = data;
    while (rest.length > 0) {
      const piece = rest.subarray(0, BATCH_BYTES - this.used);
      if (this.opened) {
        this.batch ??= this.digests.batchBuffer();
        piece.copy(this.batch, this.used);
      } else {
        this.held.push(Buffer.from(piece));
      }
      this.used += piece.length;
      rest = rest.subarray(piece.length);
      if (this.used === BATCH_BYTES) waiting = this.flush() ?? waiting;
    }
    return waiting;
  }

  async digest(): Promise<string> {
    if (!this.opened) {
      const hash = createHash('sha256');
      for (const piece of this.held) hash.update(piece);
      return hash.digest('hex');
    }
    this.flush();
    const hex = await this.digests.digest(this.key);
    if (hex === null) throw new Error('digest lost');
    return hex;
  }

  drop(): void {
    if (this.opened) this.digests.drop(this.key);
    this.held = [];
  }

  private flush(): Promise<void> | undefined {
    if (this.used === 0) return undefined;
    if (!this.opened) {
      this.opened = true;
      this.digests.open(this.key);
      this.batch = this.digests.batchBuffer();
      let at = 0;
      for (const piece of this.held) at += piece.copy(this.batch, at);
      this.held = [];
    }
    const waiting = this.digests.send(this.key, this.batch as Buffer, this.used);
    this.batch = undefined;
    this.used = 0;
    return waiting;
  }
}
