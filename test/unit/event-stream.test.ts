import { createServer, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { EventStream } from '../../src/http/api/event-stream.js';
import { waitFor } from '../helpers/wait.js';

describe('EventStream and a client that does not read', () => {
  it('keeps only the latest event per key while the client is behind, and cuts it off past the bound', async () => {
    let res: ServerResponse | undefined;
    let stream: EventStream | undefined;
    const server = createServer((_req, r) => {
      res = r;
      stream = new EventStream(r, 100);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause(); // reads nothing from now on
    stream = await waitFor(() => stream, { intervalMs: 5, what: 'the server to take the request' });
    const payload = 'x'.repeat(4096);
    // The same upload over and over: coalesced, never cut off.
    for (let i = 0; i < 5000; i++) stream.send('same-upload', 'progress', String(i), { payload, i });
    expect(res?.destroyed).toBe(false);
    expect(res?.writableLength).toBeLessThan(16 * 1024 * 1024);
    // Many uploads: past 100 waiting, the client is cut off.
    for (let i = 0; i < 5000 && !res?.destroyed; i++) stream.send(`upload-${i}`, 'progress', String(i), { payload, i });
    expect(res?.destroyed).toBe(true);
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});
