import { request } from 'node:http';

export type OpenPatch = {
  /** Sends body bytes; resolves once they are handed to the socket. */
  write(data: Buffer): Promise<void>;
  /** Ends the request body as sent so far (the socket stays open for the response). */
  end(): void;
  /** Half-closes the connection (FIN) after the bytes sent so far. */
  finish(): void;
  /** Resets the connection (RST), as a crashed client or middlebox would. */
  reset(): void;
  /** The response, or the error if the connection died first. */
  response: Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>;
};

/**
 * Opens a PATCH whose body the test feeds by hand, to stop, stall or cut it where it wants.
 * `protocol` replaces the tus headers (a draft append's, say).
 */
export function openPatch(
  baseUrl: string,
  path: string,
  offset: number,
  contentLength?: number,
  protocol: Record<string, string> = { 'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream' },
): OpenPatch {
  const headers: Record<string, string> = { ...protocol, 'Upload-Offset': String(offset) };
  if (contentLength !== undefined) headers['Content-Length'] = String(contentLength);
  const req = request(`${baseUrl}${path}`, { method: 'PATCH', headers, agent: false });
  // Answered: a server may answer before the body is all sent (a request it cut short), and close the connection.
  let answered = false;
  const response = new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>(
    (resolve, reject) => {
      req.on('response', (res) => {
        answered = true;
        res.resume();
        const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers });
        res.on('end', done);
        res.on('close', done);
      });
      req.on('error', (error) => {
        if (!answered) reject(error);
      });
    },
  );
  response.catch(() => {});
  req.flushHeaders();
  return {
    // Once the server has answered and closed, there is nothing more to send: a write then does nothing.
    write: (data) =>
      new Promise((resolve, reject) => {
        if (answered || req.destroyed) return resolve();
        req.write(data, (e) => (e && !answered ? reject(e) : resolve()));
      }),
    end: () => req.end(),
    finish: () => req.socket?.end(),
    reset: () => req.socket?.resetAndDestroy(),
    response,
  };
}
