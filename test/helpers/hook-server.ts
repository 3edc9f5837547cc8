import { createServer, type Server } from 'node:http';

export type HookAnswer = { status: number; json?: unknown; text?: string; delayMs?: number };

/**
 * A pre-request or pre-create hook on a real port: records every body it is
 * sent, and answers with whatever `answer` returns for it.
 */
export async function startHookServer(answer: (body: Record<string, unknown>) => HookAnswer) {
  const received: Array<Record<string, unknown>> = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString()) as Record<string, unknown>;
      received.push(body);
      const reply = answer(body);
      setTimeout(() => {
        if (reply.json !== undefined) {
          res.writeHead(reply.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(reply.json));
        } else {
          res.writeHead(reply.status, { 'Content-Type': 'text/plain' }).end(reply.text ?? '');
        }
      }, reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    received,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
