import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ByteSink } from '../../src/uploads/bytes/byte-store.js';
import { writeDirect } from '../../src/uploads/writing/direct-write.js';

const CHUNK = 64 * 1024;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A sink whose writes take `ms` each, noting in `log` when each one starts and lands, and when it is closed. */
function slowSink(ms: number, log: string[]): ByteSink {
  return {
    write: async (_buffers, position, length) => {
      log.push(`start ${position}+${length}`);
      await pause(ms);
      log.push(`land ${position}+${length}`);
    },
    close: async () => {
      log.push('close');
    },
  };
}

describe('writeDirect', () => {
  it('a lost lock during a write: settles only once that write has landed, and records nothing after the loss', async () => {
    const log: string[] = [];
    const source = new PassThrough();
    const fence = new AbortController();
    const stored: number[] = [];
    const sink = slowSink(100, log);
    const writing = writeDirect({ source, room: 10 * CHUNK, fence: fence.signal }, sink, 0, {
      chunkSize: CHUNK,
      onStored: (at) => stored.push(at),
    });
    source.write(Buffer.alloc(CHUNK));
    await pause(20); // the first chunk's batch is being written
    fence.abort(new Error('lock lost'));
    source.write(Buffer.alloc(CHUNK));
    await expect(writing).rejects.toThrow('lock lost');
    // What the writer does next: closes the file. The write in flight has landed by then.
    await sink.close();
    expect(log).toEqual([`start 0+${CHUNK}`, `land 0+${CHUNK}`, 'close']);
    expect(stored).toEqual([]);
  });

  it('stores a body in batches that end on chunk boundaries, recording each boundary', async () => {
    const log: string[] = [];
    const source = new PassThrough();
    const stored: number[] = [];
    const writing = writeDirect({ source, room: 10 * CHUNK }, slowSink(1, log), 0, {
      chunkSize: CHUNK,
      onStored: (at) => stored.push(at),
    });
    source.end(Buffer.alloc(2 * CHUNK + 100));
    expect(await writing).toBe(2 * CHUNK + 100);
    expect(stored).toEqual([CHUNK, 2 * CHUNK]);
    expect(log.filter((l) => l.startsWith('land'))).toEqual([
      `land 0+${CHUNK}`,
      `land ${CHUNK}+${CHUNK}`,
      `land ${2 * CHUNK}+100`,
    ]);
  });

  it('a chunk that overruns the room: the bytes that fit are written, then the body is refused', async () => {
    const log: string[] = [];
    const source = new PassThrough();
    const writing = writeDirect({ source, room: 1000 }, slowSink(1, log), 0, { chunkSize: CHUNK });
    source.write(Buffer.alloc(1500));
    await expect(writing).rejects.toMatchObject({ code: 'BODY_EXCEEDS_LENGTH' });
    expect(log).toEqual(['start 0+1000', 'land 0+1000']);
  });
});
