import { describe, expect, it } from 'vitest';
import { isUploadId, newUploadId, parseUploadId } from '../../src/uploads/model/upload-id.js';

describe('upload IDs', () => {
  it('are random lowercase UUIDs', () => {
    const a = newUploadId();
    expect(isUploadId(a)).toBe(true);
    expect(newUploadId()).not.toBe(a);
  });

  it('accept the cheat sheet spelling upload:<id>', () => {
    const id = newUploadId();
    expect(parseUploadId(`upload:${id}`)).toBe(id);
    expect(parseUploadId(id)).toBe(id);
  });

  it('refuse anything that could reach a path or shift a hash tag', () => {
    const id = newUploadId();
    for (const bad of ['../x', `${id}/..`, `{${id}}`, id.toUpperCase(), `${id}\0`, '', 'upload:', 42, undefined]) {
      expect(parseUploadId(bad), String(bad)).toBeUndefined();
    }
  });
});
