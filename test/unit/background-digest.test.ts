import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { BackgroundDigests } from '../../src/uploads/digests/background-digest.js';
import { sha256 } from '../helpers/digest.js';

const digests = new BackgroundDigests();
afterAll(() => digests.close());

describe('BackgroundDigests', () => {
  it.each([0, 1, 4096, 1024 * 1024, 1024 * 1024 + 1, 3.5 * 1024 * 1024])(
    'gives the SHA-256 of %i bytes fed in uneven pieces',
    async (size) => {
      const data = randomBytes(size);
      const handle = digests.start();
      for (let at = 0; at < data.length; ) {
        const piece = data.subarray(at, at + 1 + Math.floor(Math.random() * 200_000));
        await handle.update(piece);
        at += piece.length;
      }
      expect(await handle.digest()).toBe(sha256(data));
    },
  );

  it('keeps several digests apart', async () => {
    const a = randomBytes(3 * 1024 * 1024);
    const b = randomBytes(2 * 1024 * 1024 + 7);
    const [ha, hb] = [digests.start(), digests.start()];
    for (let at = 0; at < 3 * 1024 * 1024; at += 65536) {
      await ha.update(a.subarray(at, at + 65536));
      if (at < b.length) await hb.update(b.subarray(at, at + 65536));
    }
    expect(await hb.digest()).toBe(sha256(b));
    expect(await ha.digest()).toBe(sha256(a));
  });

  it('makes a fast producer wait instead of queueing without bound', async () => {
    const handle = digests.start();
    const piece = randomBytes(1024 * 1024);
    let waits = 0;
    for (let i = 0; i < 64; i++) {
      const waiting = handle.update(piece);
      if (waiting) {
        waits++;
        await waiting;
      }
    }
    expect(waits).toBeGreaterThan(0);
    expect(await handle.digest()).toBe(sha256(Buffer.concat(Array.from({ length: 64 }, () => piece))));
  });
});
