import type { ServerResponse } from 'node:http';

const HEARTBEAT_MS = 15_000;

/**
 * One Server-Sent Events response. A client that reads slower than events
 * come keeps only the latest event per key (an upload) until it catches up,
 * and is cut off past `maxPending` keys (it reconnects and gets a snapshot):
 * a slow consumer cannot make the server's memory grow without bound.
 */
export class EventStream {
  private readonly pending = new Map<string, string>();
  private waiting = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    private readonly maxPending = 1000,
  ) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.heartbeat = setInterval(() => this.write(': ping\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
    res.once('close', () => clearInterval(this.heartbeat));
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  send(key: string, event: string, id: string, data: unknown): void {
    if (this.closed) return;
    const text = `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    if (this.waiting) {
      this.pending.delete(key);
      this.pending.set(key, text);
      if (this.pending.size > this.maxPending) this.res.destroy();
      return;
    }
    this.write(text);
  }

  private write(text: string): void {
    if (this.closed || this.waiting) return;
    if (!this.res.write(text)) {
      this.waiting = true;
      this.res.once('drain', () => this.flush());
    }
  }

  private flush(): void {
    this.waiting = false;
    for (const [key, text] of this.pending) {
      this.pending.delete(key);
      this.write(text);
      if (this.waiting) return;
    }
  }
}
