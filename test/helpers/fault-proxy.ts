import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback that forwards faithfully until told to misbehave:
 * drop the next reply from the server (and cut the connection, as a network
 * fault would), or reset a client connection after a number of bytes.
 */
export type FaultProxy = Readonly<{
  port: number;
  url(scheme: string): string;
  /** The next data the server sends is discarded and that connection is cut. */
  dropNextReply(): void;
  /** Each new client connection is reset (RST) after forwarding this many bytes upstream; undefined turns it off. */
  resetClientsAfter(bytes: number | undefined): void;
  /** Holds everything clients send for `ms` (a server that hangs), then forwards it. */
  hold(ms: number): void;
  /** Replies dropped so far. */
  readonly dropped: number;
  close(): Promise<void>;
}>;

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let dropArmed = false;
  let dropped = 0;
  let resetAfter: number | undefined;
  let heldUntil = 0;

  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const limit = resetAfter;
    let forwarded = 0;
    client.on('data', (data: Buffer) => {
      const wait = heldUntil - Date.now();
      if (wait > 0) {
        client.pause();
        setTimeout(() => {
          upstream.write(data);
          client.resume();
        }, wait);
        return;
      }
      if (limit !== undefined && forwarded + data.length > limit) {
        upstream.write(data.subarray(0, limit - forwarded));
        forwarded = limit;
        client.resetAndDestroy();
        upstream.end();
        return;
      }
      forwarded += data.length;
      upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => {
      if (dropArmed) {
        dropArmed = false;
        dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(data);
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    url: (scheme) => `${scheme}://127.0.0.1:${port}`,
    dropNextReply: () => {
      dropArmed = true;
    },
    resetClientsAfter: (bytes) => {
      resetAfter = bytes;
    },
    hold: (ms) => {
      heldUntil = Date.now() + ms;
    },
    get dropped() {
      return dropped;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
