import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';

/**
 * Graceful shutdown for HTTP. Once draining, new requests get 503 with
 * Retry-After. In-flight requests get a grace period to finish; after it their
 * connections are cut, so a PATCH still streaming ends, stores and records
 * the bytes it received, and releases its lock. `drain` resolves when the last
 * handler has ended.
 */
export class Drain {
  private isDraining = false;
  private readonly running = new Map<IncomingMessage, Promise<unknown>>();

  get draining(): boolean {
    return this.isDraining;
  }

  /** Requests whose handlers have not ended yet. */
  get inFlight(): number {
    return this.running.size;
  }

  /** Refuses requests while draining; otherwise counts a request as running until its response closes. */
  readonly guard: RequestHandler = (req, res, next) => {
    if (this.isDraining) {
      res.set({ 'Retry-After': '5', Connection: 'close', 'Tus-Resumable': '1.0.0' });
      res
        .status(503)
        .json({ error: { code: 'SHUTTING_DOWN', message: 'This server is shutting down; retry shortly' } });
      return;
    }
    this.track(req, new Promise((resolve) => res.once('close', resolve)));
    next();
  };

  /** Counts a request as running until `handled` settles (a handler may outlive its response). */
  track(req: IncomingMessage, handled: Promise<unknown>): void {
    const settled = handled.then(
      () => {},
      () => {},
    );
    this.running.set(req, settled);
    void settled.then(() => {
      if (this.running.get(req) === settled) this.running.delete(req);
    });
  }

  /** `onCut` runs when the grace period is over and connections are cut (e.g. to stop waits for locks). */
  async drain(graceMs: number, onCut: () => void = () => {}): Promise<void> {
    this.isDraining = true;
    await Promise.race([this.allSettled(), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    for (const req of this.running.keys()) req.socket.destroy();
    onCut();
    await this.allSettled();
  }

  private async allSettled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()]);
  }
}
