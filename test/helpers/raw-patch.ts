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
  const response = new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>(
    (resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      });
      req.on('error', reject);
    },
  );
  response.catch(() => {});
  req.flushHeaders();
  return {
    write: (data) => new Promise((resolve, reject) => req.write(data, (e) => (e ? reject(e) : resolve()))),
    end: () => req.end(),
    finish: () => req.socket?.end(),
    reset: () => req.socket?.resetAndDestroy(),
    response,
  };
}
