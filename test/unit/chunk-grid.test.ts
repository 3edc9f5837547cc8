import { describe, expect, it } from 'vitest';
import { chooseChunkSize, missingChunks, percent, toRanges } from '../../src/uploads/model/chunk-grid.js';

describe('chunk grid', () => {
  it('lists missing indexes and compacts them to inclusive ranges', () => {
    expect(missingChunks(6, [0, 2, 3])).toEqual([1, 4, 5]);
    expect(toRanges([1, 4, 5])).toEqual([
      [1, 1],
      [4, 5],
    ]);
    expect(toRanges([])).toEqual([]);
  });

  it('percent of bytes: 100 for an empty upload, null when the size is unknown, never NaN', () => {
    expect(percent(0, 0)).toBe(100);
    expect(percent(1, 3)).toBe(33.33);
    expect(percent(5, undefined)).toBeNull();
  });

  it('takes a client chunk size within bounds and refuses the rest with a clear message', () => {
    expect(chooseChunkSize(undefined, 5_242_880)).toBe(5_242_880);
    expect(chooseChunkSize('1048576', 5_242_880)).toBe(1_048_576);
    for (const bad of [null, '', '12', '1e6', '-65536', '0x10000', String(2 ** 31), '65536.5']) {
      expect(() => chooseChunkSize(bad, 5_242_880), String(bad)).toThrow(/chunkSize must be a whole number of bytes/);
    }
  });
});
