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

export const median = (values: number[]) => percentile(values, 50);
