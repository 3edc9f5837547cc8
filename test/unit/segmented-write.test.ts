import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeInSegments } from '../../src/uploads/writing/segmented-write.js';
import { waitFor } from '../helpers/wait.js';

async function collect(segment: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of segment) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe('writeInSegments', () => {
  it('cuts the stream at absolute multiples of the segment size and passes every byte once, in order', async () => {
    const data = Buffer.from(Array.from({ length: 95 }, (_, i) => i));
    const pieces: Array<[number, Buffer]> = [];
    // Uneven source chunks, starting mid-segment at offset 25.
    const source = Readable.from([data.subarray(0, 7), data.subarray(7, 40), data.subarray(40)]);
    const end = await writeInSegments(source, 25, 30, async (segment, at) => {
      const bytes = await collect(segment);
      pieces.push([at, bytes]);
      return at + bytes.length;
    });
    expect(end).toBe(120);
    expect(pieces.map(([at, b]) => [at, b.length])).toEqual([
      [25, 5],
      [30, 30],
      [60, 30],
      [90, 30],
    ]);
    expect(Buffer.concat(pieces.map(([, b]) => b))).toEqual(data);
  });

  it('stores what arrived before the source failed, then throws the source error', async () => {
    const source = new Readable({ read() {} });
    const stored: number[] = [];
    const done = writeInSegments(source, 0, 10, async (segment, at) => {
      const bytes = await collect(segment);
      stored.push(at + bytes.length);
      return at + bytes.length;
    });
    source.push(Buffer.alloc(14));
    await waitFor(() => stored.length === 1, { what: 'the first segment of what arrived to be stored' });
    source.destroy(new Error('client went away'));
    await expect(done).rejects.toThrow('client went away');
    expect(stored).toEqual([10, 14]);
  });

  it('stops reading and throws when a segment write fails', async () => {
    let pulls = 0;
    const source = new Readable({
      read() {
        pulls++;
        this.push(pulls < 1000 ? Buffer.alloc(1024) : null);
      },
    });
    const done = writeInSegments(source, 0, 4096, async (segment) => {
      segment.resume();
      throw new Error('disk full');
    });
    await expect(done).rejects.toThrow('disk full');
    expect(pulls).toBeLessThan(1000);
  });

  it('writes nothing for an empty body', async () => {
    let calls = 0;
    const end = await writeInSegments(Readable.from([]), 42, 10, async () => ++calls);
    expect(end).toBe(42);
    expect(calls).toBe(0);
  });
});
