import { type ClientRequest, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { waitFor } from './wait.js';

export type Informational = { statusCode: number; headers: IncomingHttpHeaders };
export type DraftResponse = {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The 1xx responses that came before the final one, as Node's client parsed them from the socket. */
  informational: Informational[];
};

/** The field that says "this request completes the upload" in interop version `v`, and its two values. */
export function completeness(v: number, complete: boolean): Record<string, string> {
  return v === 3 ? { 'Upload-Incomplete': complete ? '?0' : '?1' } : { 'Upload-Complete': complete ? '?1' : '?0' };
}

/** A request on its own connection whose body `send` writes; resolves with the final response and every 1xx before it. */
function exchange(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  send: (req: ClientRequest) => void,
): Promise<DraftResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const informational: Informational[] = [];
    const req = httpRequest({ host: hostname, port, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), informational }),
      );
    });
    req.on('information', (info) => informational.push({ statusCode: info.statusCode, headers: info.headers }));
    req.on('error', reject);
    send(req);
  });
}

/** A draft request on its own connection; resolves with the final response and every 104 before it. */
export function draftRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<DraftResponse> {
  return exchange(base, method, path, headers, (req) => req.end(body));
}

/** A request whose body is sent chunked (no Content-Length), as a client streaming a file of unknown size does. */
export function chunkedRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  pieces: Buffer[],
): Promise<DraftResponse> {
  return exchange(base, method, path, headers, (req) => {
    for (const piece of pieces) req.write(piece);
    req.end();
  });
}

/**
 * A creation whose connection drops part-way: sends the head and `sent` of
 * `total` bytes, waits for the 104, then for `stored` (handed the upload's ID)
 * to say the server has stored what the test needs kept, and resets the
 * connection. Resolves with the 104 (the only response the client gets).
 * `stored` must read without a request on the upload (Redis, not a HEAD): a
 * request on it ends the creation's reading.
 */
export function interruptedCreation(
  base: string,
  path: string,
  headers: Record<string, string>,
  sent: Buffer,
  total: number,
  stored: (id: string) => Promise<unknown>,
): Promise<Informational> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: hostname,
      port,
      method: 'POST',
      path,
      headers: { ...headers, 'Content-Length': String(total) },
      agent: false,
    });
    req.on('error', () => {});
    req.on('response', () => reject(new Error('a final response came for a request that never finished')));
    let announced = false;
    req.on('information', (info) => {
      // The first 104 announces the upload; later ones (from version 8) report progress.
      if (info.statusCode !== 104 || announced) return;
      announced = true;
      const id = new URL(String(info.headers.location), base).pathname.split('/').pop() as string;
      // The server has the upload; what is sent now is stored (a busy server may take its time), then the
      // connection goes.
      req.write(sent, () => {
        stored(id).then(() => {
          req.destroy();
          resolve({ statusCode: info.statusCode, headers: info.headers });
        }, reject);
      });
    });
    req.flushHeaders();
  });
}

/**
 * A draft request whose body goes out in `pieces`, `pauseMs` apart (a slow
 * client, to see the interim responses a server sends meanwhile).
 */
export function pacedDraftRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  pieces: Buffer[],
  pauseMs: number,
): Promise<DraftResponse> {
  const length = pieces.reduce((n, piece) => n + piece.length, 0);
  return exchange(base, method, path, { ...headers, 'Content-Length': String(length) }, (req) => {
    const send = (i: number) => {
      if (i === pieces.length) return void req.end();
      req.write(pieces[i], () => setTimeout(() => send(i + 1), pauseMs));
    };
    send(0);
  });
}

/** Something that reads an upload's recorded progress without a request on it (the test context's reader). */
type ProgressReader = { readProgress(id: string): Promise<{ offset: number } | undefined> };

/** For `interruptedCreation`: waits until the record says at least `bytes` of the upload are stored. */
export function recordedAtLeast(reader: ProgressReader, bytes: number): (id: string) => Promise<unknown> {
  return (id) =>
    waitFor(async () => ((await reader.readProgress(id))?.offset ?? 0) >= bytes, {
      what: () => `${bytes} bytes of ${id} to be recorded as stored`,
    });
}
