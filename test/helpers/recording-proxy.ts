import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';

export type RecordedCall = Readonly<{
  method: string;
  /** The path, percent-decoded. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}>;

/**
 * An HTTP proxy on loopback that forwards every request to the real service
 * at `target` unchanged (headers and body as sent, so signed requests stay
 * valid) and records it: to see which calls a server made, and how many.
 */
export async function startRecordingProxy(target: string) {
  const upstream = new URL(target);
  const calls: RecordedCall[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    calls.push({
      method: req.method ?? '',
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers: req.headers,
    });
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    /** The proxy's origin (`http://127.0.0.1:<port>`): the target's paths are the same behind it. */
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    calls,
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
