import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { waitFor as poll } from './wait.js';

export type Delivery = {
  headers: IncomingHttpHeaders;
  raw: string;
  body: { id: string; type: string; upload: Record<string, unknown> } & Record<string, unknown>;
  /** The status this receiver answered. */
  answered: number;
  at: number;
};

/**
 * A webhook receiver on a real port: records every delivery and answers with
 * whatever `answer` says at that moment (a status code; 0: never answer).
 */
export async function startReceiver(port = 0) {
  const deliveries: Delivery[] = [];
  let answer: (body: Delivery['body']) => number = () => 200;
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString();
      const body = JSON.parse(raw);
      const status = answer(body);
      deliveries.push({ headers: req.headers, raw, body, answered: status, at: Date.now() });
      if (status === 0) return;
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(status === 200 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  return {
    url,
    deliveries,
    answerWith(next: (body: Delivery['body']) => number) {
      answer = next;
    },
    /** Deliveries of one event type (optionally of one upload). */
    of(type: string, uploadId?: string) {
      return deliveries.filter((d) => d.body.type === type && (!uploadId || d.body.upload.id === uploadId));
    },
    async waitFor(test: () => boolean, timeoutMs = 15_000, what = 'deliveries') {
      await poll(test, {
        timeoutMs,
        what: () => `${what}; got ${JSON.stringify(deliveries.map((d) => [d.body.type, d.answered]))}`,
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
