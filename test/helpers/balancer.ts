import { createServer, request } from 'node:http';
import { Transform } from 'node:stream';

export type Balancer = {
  url: string;
  /** Answers seen, as `METHOD status` (`METHOD failed` when the instance died before answering). */
  answers: Map<string, number>;
  close(): Promise<void>;
};

/**
 * Passes a body on at about `bytesPerSecond`: a client on an ordinary link,
 * whose uploads take long enough for faults to land in the middle of them.
 */
function paced(bytesPerSecond: number): Transform {
  const start = Date.now();
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      passed += chunk.length;
      const due = start + (passed / bytesPerSecond) * 1000;
      setTimeout(() => done(null, chunk), Math.max(0, due - Date.now()));
    },
  });
}

/**
 * A small round-robin HTTP balancer in front of instances on loopback: each
 * request goes to the next port `ports()` names, its Host kept (so Location
 * headers name the balancer). An instance that refuses the connection or
 * dies before answering gets the client a 502, and one that dies mid-answer
 * a cut connection: what nginx does without retries, so the client's own
 * retries are what recover. Request bodies are passed on at
 * `bytesPerSecond` each, if given.
 */
export async function startBalancer(ports: () => readonly number[], bytesPerSecond?: number): Promise<Balancer> {
  const answers = new Map<string, number>();
  const count = (key: string) => answers.set(key, (answers.get(key) ?? 0) + 1);
  let next = 0;
  const server = createServer((req, res) => {
    const all = ports();
    const port = all[next++ % all.length];
    const upstream = request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (answer) => {
        count(`${req.method} ${answer.statusCode}`);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
        answer.on('aborted', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      count(`${req.method} failed`);
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { Connection: 'close', 'Content-Type': 'text/plain' }).end('upstream failed');
      req.resume();
    });
    if (bytesPerSecond) req.pipe(paced(bytesPerSecond)).pipe(upstream);
    else req.pipe(upstream);
    // The client went away: so does the request it made upstream.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    answers,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
