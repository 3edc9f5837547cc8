import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Metadata } from '@tus/utils';
import type { Agent, Response } from 'supertest';

export const TUS = { 'Tus-Resumable': '1.0.0' } as const;
export const OCTETS = { 'Content-Type': 'application/offset+octet-stream' } as const;

export type CreateOptions = {
  size?: number;
  metadata?: Record<string, string | null>;
  body?: Buffer;
  headers?: Record<string, string>;
};

/** POST a new upload (deferred length when `size` is undefined); resolves to the response and its path. */
export async function createUpload(
  agent: Agent,
  options: CreateOptions = {},
): Promise<{ res: Response; path: string; id: string }> {
  let req = agent.post('/files').set(TUS);
  req =
    options.size === undefined ? req.set('Upload-Defer-Length', '1') : req.set('Upload-Length', String(options.size));
  if (options.metadata && Object.keys(options.metadata).length > 0) {
    req = req.set('Upload-Metadata', Metadata.stringify(options.metadata));
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) req = req.set(name, value);
  const res = options.body ? await req.set(OCTETS).send(options.body) : await req.send();
  const location = res.headers.location ?? '';
  const path = location ? new URL(location, 'http://x').pathname : '';
  return { res, path, id: path.split('/').pop() ?? '' };
}

export function patch(agent: Agent, path: string, offset: number, body: Buffer, headers: Record<string, string> = {}) {
  return agent.patch(path).set(TUS).set(OCTETS).set('Upload-Offset', String(offset)).set(headers).send(body);
}

export function head(agent: Agent, path: string) {
  return agent.head(path).set(TUS);
}

/** GET with the body as bytes, whatever its type. */
export function getBytes(agent: Agent, path: string, headers: Record<string, string> = {}) {
  return agent
    .get(path)
    .set(headers)
    .buffer(true)
    .parse((res, done) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => done(null, Buffer.concat(parts)));
    });
}

/** A request with its path sent exactly as given (supertest and fetch normalize `..` away). */
export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** GET `url` as a reader that stops reading for `pauseMs` after the first bytes (a paused browser download). */
export async function downloadWithPause(url: string, pauseMs: number): Promise<Buffer> {
  const reader = ((await fetch(url)).body as ReadableStream<Uint8Array>).getReader();
  const parts: Uint8Array[] = [];
  for (let read = await reader.read(), paused = false; !read.done; read = await reader.read()) {
    parts.push(read.value);
    if (!paused) {
      paused = true;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
  return Buffer.concat(parts);
}
