// A counting TCP proxy between a server under test and Redis (node:net, on loopback, in the benchmark's own
// process): it forwards every byte as it comes and parses the RESP it forwards, both ways, to count round
// trips the way a server pays for them, in waits.
//
// A round trip is a burst of commands that a connection sends while it has no reply outstanding: the server
// sends a batch (one command, an auto-pipelined write of several, a MULTI … EXEC) and must then wait for Redis.
// Per connection the proxy counts the commands sent (complete RESP arrays from the client) and the replies
// received (complete RESP values from Redis; pub/sub pushes — "message", "pmessage", "smessage" arrays — are not
// replies; a SUBSCRIBE of n channels expects n). A client chunk that arrives while every command sent before it
// has been answered (and no command is half sent) starts a round trip; commands sent while a reply is still
// outstanding join the round trip in flight (the server did not wait before sending them). So:
//   - await a; await b;            → 2 round trips
//   - a and b in the same tick     → 1 (one write, ioredis auto-pipelining)
//   - a, then b before a's reply   → 1 (b did not wait; on a busy server this also merges unrelated requests,
//                                      which is why redis-cost.ts measures one request at a time). Note that
//                                      ioredis with enableAutoPipelining never does this on one connection: it
//                                      holds new commands until the pipeline in flight has its replies.
// Round trips are counted per connection and summed: two connections waiting at the same time count 2. Commands
// a request does not wait for (sent after its reply, e.g. not-awaited index updates) still count once each
// burst; redis-cost.ts also reports how many started before the HTTP reply. Connection setup (HELLO, INFO
// ready check, SUBSCRIBE of a fresh subscriber) counts too; measure after a warm-up. Checked by hand against
// ioredis: sequential awaits, auto-pipelined batches, MULTI, a 5 MB SET split over many chunks, a bulk reply
// over many chunks, nested script replies, SUBSCRIBE of two channels with pushes arriving.
import { connect, createServer, type Socket } from 'node:net';

export type RedisProxy = Readonly<{
  url: string;
  /** Bursts started from idle, over all connections so far. */
  readonly roundTrips: number;
  /** Commands sent (a MULTI … EXEC block counts each command in it, MULTI and EXEC included). */
  readonly commands: number;
  readonly connections: number;
  /** Sets (or with undefined clears) the function called for each command forwarded. */
  trace(fn: CommandTrace | undefined): void;
  /** Resolves once no connection has a reply outstanding and nothing has moved for `quietMs`. */
  settled(quietMs?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}>;

const CRLF = 0x0d;
const PUSHES = new Set(['message', 'pmessage', 'smessage']);
const SUBSCRIBES = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe']);

type Parsed = { end: number; first?: string; length?: number };

/** The end of the RESP value at `pos` (with its first element if it is an array of strings), or -1 if incomplete. */
function parseValue(buf: Buffer, pos: number): Parsed | -1 {
  if (pos >= buf.length) return -1;
  const lineEnd = buf.indexOf(CRLF, pos);
  if (lineEnd === -1 || lineEnd + 1 >= buf.length) return -1;
  const type = String.fromCharCode(buf[pos] as number);
  const header = buf.toString('latin1', pos + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return { end: next };
    case '$':
    case '!':
    case '=': {
      const length = Number(header);
      if (length < 0) return { end: next };
      const end = next + length + 2;
      return end > buf.length ? -1 : { end };
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      const count = Number(header) * (type === '%' || type === '|' ? 2 : 1);
      if (count < 0) return { end: next };
      let at = next;
      let first: string | undefined;
      for (let i = 0; i < count; i++) {
        const element = parseValue(buf, at);
        if (element === -1) return -1;
        if (i === 0 && (buf[at] === 0x24 || buf[at] === 0x2b)) {
          // A bulk ($n\r\n…) or simple (+…) string: its text.
          const elementLineEnd = buf.indexOf(CRLF, at);
          first =
            buf[at] === 0x24
              ? buf.toString('latin1', elementLineEnd + 2, element.end - 2)
              : buf.toString('latin1', at + 1, elementLineEnd);
        }
        at = element.end;
      }
      return { end: at, length: count, ...(first === undefined ? {} : { first: first.toLowerCase() }) };
    }
    default:
      // Inline command (telnet style): one line.
      return { end: next };
  }
}

/** Called for each command forwarded, with its connection's number and whether it began a round trip. */
type CommandTrace = (connection: number, command: string, startsRoundTrip: boolean) => void;

export async function startRedisProxy(targetUrl: string): Promise<RedisProxy> {
  let trace: CommandTrace | undefined;
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const outstandingBy = new Set<{ outstanding: number; partial: boolean }>();
  let roundTrips = 0;
  let commands = 0;
  let connections = 0;
  let lastActivity = performance.now();

  const server = createServer((client) => {
    const connection = ++connections;
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    const state = { outstanding: 0, partial: false, subscribed: false };
    outstandingBy.add(state);
    let fromClient: Buffer = Buffer.alloc(0);
    let fromRedis: Buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      lastActivity = performance.now();
      upstream.write(chunk);
      let starts = state.outstanding === 0 && fromClient.length === 0;
      if (starts) roundTrips++;
      fromClient = fromClient.length === 0 ? chunk : Buffer.concat([fromClient, chunk]);
      let at = 0;
      for (;;) {
        const command = parseValue(fromClient, at);
        if (command === -1) break;
        at = command.end;
        commands++;
        trace?.(connection, command.first ?? '?', starts);
        starts = false;
        if (command.first !== undefined && SUBSCRIBES.has(command.first)) {
          state.subscribed = true;
          state.outstanding += Math.max(1, (command.length ?? 1) - 1);
        } else state.outstanding++;
      }
      fromClient = fromClient.subarray(at);
      state.partial = fromClient.length > 0;
    });
    upstream.on('data', (chunk: Buffer) => {
      lastActivity = performance.now();
      client.write(chunk);
      fromRedis = fromRedis.length === 0 ? chunk : Buffer.concat([fromRedis, chunk]);
      let at = 0;
      for (;;) {
        const reply = parseValue(fromRedis, at);
        if (reply === -1) break;
        at = reply.end;
        const push = state.subscribed && reply.first !== undefined && PUSHES.has(reply.first);
        if (!push) state.outstanding = Math.max(0, state.outstanding - 1);
      }
      fromRedis = fromRedis.subarray(at);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      outstandingBy.delete(state);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    get roundTrips() {
      return roundTrips;
    },
    get commands() {
      return commands;
    },
    get connections() {
      return connections;
    },
    trace(fn) {
      trace = fn;
    },
    async settled(quietMs = 100, timeoutMs = 5000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const busy = [...outstandingBy].some((s) => s.outstanding > 0 || s.partial);
        if (!busy && performance.now() - lastActivity >= quietMs) return;
        if (performance.now() > deadline) throw new Error('Redis traffic did not settle');
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
