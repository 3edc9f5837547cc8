// A lean tus client for the benchmark: node:http with keep-alive, bodies sent
// from memory, no retries, nothing the servers under test are not asked to do.
import { Agent, request } from 'node:http';

export type Reply = { status: number; headers: Record<string, string | string[] | undefined>; ms: number };

export class TusLoad {
  private readonly agent: Agent;

  constructor(
    readonly base: string,
    maxSockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  send(method: string, path: string, headers: Record<string, string>, body?: Buffer | Buffer[]): Promise<Reply> {
    const started = performance.now();
    const parts = body === undefined ? [] : Array.isArray(body) ? body : [body];
    const length = parts.reduce((sum, p) => sum + p.length, 0);
    return new Promise((resolve, reject) => {
      const req = request(`${this.base}${path}`, {
        method,
        agent: this.agent,
        headers: {
          'Tus-Resumable': '1.0.0',
          ...headers,
          ...(parts.length > 0 ? { 'Content-Length': String(length) } : {}),
        },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, ms: performance.now() - started }),
        );
      });
      const write = async () => {
        for (const part of parts) {
          if (!req.write(part)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      };
      write().catch(reject);
    });
  }

  async create(size: number): Promise<string> {
    const res = await this.send('POST', '/files', { 'Upload-Length': String(size) });
    if (res.status !== 201) throw new Error(`POST answered ${res.status}`);
    return new URL(String(res.headers.location), this.base).pathname;
  }

  async patch(path: string, offset: number, body: Buffer | Buffer[]): Promise<Reply> {
    const res = await this.send(
      'PATCH',
      path,
      { 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
      body,
    );
    if (res.status !== 204) throw new Error(`PATCH answered ${res.status}`);
    return res;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The middle value; of an even count, the mean of the two middle ones (so a median of 2 runs is not the higher). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export type OpenLoop = {
  /** Stops issuing; waits for the requests in flight; what was measured. */
  stop(): Promise<OpenLoopResult>;
};
type OpenLoopResult = {
  /** Replies received while the loop ran, per second of it (the achieved rate). */
  readsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Replies with a status of 400 or more, and requests that failed outright. */
  errors: number;
  /** Ticks with no target (no upload in flight yet): not issued. */
  skipped: number;
  /** How late a request left after its scheduled time (event-loop lag of the load generator): p99. */
  scheduleLagP99Ms: number;
};

/**
 * An open-loop reader: one request every 1000/`rate` ms on a fixed schedule (start + n × interval, so a late
 * tick is caught up at once, and the rate holds whatever the latency), each fire-and-forget on its own
 * keep-alive agent, its latency measured from when it is issued to the end of its reply (queueing for a socket
 * included). `next()` gives the path of each request, or undefined to skip that tick.
 */
export function openLoop(load: TusLoad, method: string, rate: number, next: () => string | undefined): OpenLoop {
  const interval = 1000 / rate;
  const started = performance.now();
  const latencies: number[] = [];
  const lags: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let running = true;
  let received = 0;
  let errors = 0;
  let skipped = 0;
  let timer: NodeJS.Timeout | undefined;
  let tick = 0;
  const issue = () => {
    const now = performance.now();
    while (running && started + tick * interval <= now) {
      lags.push(now - (started + tick * interval));
      tick++;
      const path = next();
      if (path === undefined) {
        skipped++;
        continue;
      }
      const request: Promise<void> = load.send(method, path, {}).then(
        (res) => {
          latencies.push(res.ms);
          if (res.status >= 400) errors++;
          if (running) received++;
        },
        () => {
          errors++;
        },
      );
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
    }
    if (running) timer = setTimeout(issue, Math.max(0, started + tick * interval - performance.now()));
  };
  issue();
  return {
    stop: async () => {
      running = false;
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      await Promise.all([...inFlight]);
      return {
        readsPerSecond: received / seconds,
        p50Ms: median(latencies),
        p99Ms: percentile(latencies, 99),
        errors,
        skipped,
        scheduleLagP99Ms: percentile(lags, 99),
      };
    },
  };
}
