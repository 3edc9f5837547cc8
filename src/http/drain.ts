import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { appError } from '../errors/app-error.js';
import { errorHeaders } from './errors.js';

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
      // As every error response: its code in X-Error-Code and the body (docs/errors.md).
      const e = appError('SHUTTING_DOWN');
      res.set({ ...errorHeaders(e), 'Retry-After': '5', Connection: 'close', 'Tus-Resumable': '1.0.0' });
      res.status(e.status).json({ error: { code: e.code, message: e.message, requestId: req.id } });
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

  /**
   * Refuses new requests, waits `graceMs` for those in flight, then cuts the
   * rest: `onCut` asks them to stop (waits for locks give up, writers stop
   * reading and are answered with what they stored), and after `cutMs` more
   * the connections of any still running are closed.
   */
  async drain(graceMs: number, onCut: () => void = () => {}, cutMs = 2000): Promise<void> {
    this.isDraining = true;
    const settled = () => this.allSettled();
    await Promise.race([settled(), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    onCut();
    await Promise.race([settled(), new Promise((resolve) => setTimeout(resolve, cutMs).unref())]);
    for (const req of this.running.keys()) req.socket.destroy();
    await settled();
  }

  private async allSettled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()]);
  }
}
