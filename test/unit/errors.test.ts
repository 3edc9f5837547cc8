import { describe, expect, it } from 'vitest';
import { appError } from '../../src/errors/app-error.js';
import { ERROR_REGISTRY } from '../../src/errors/registry.js';
import { REQUEST_ERRORS } from '../../src/errors/request-errors.js';
import { SERVICE_ERRORS } from '../../src/errors/service-errors.js';

describe('error registry', () => {
  it('lists each code once, with an error status', () => {
    const both = Object.keys(REQUEST_ERRORS).filter((code) => code in SERVICE_ERRORS);
    expect(both).toEqual([]);
    for (const [code, entry] of Object.entries(ERROR_REGISTRY)) {
      if (typeof entry.status === 'number') expect(entry.status, code).toBeGreaterThanOrEqual(400);
      if (typeof entry.status === 'number') expect(entry.status, code).toBeLessThan(600);
    }
  });

  it('builds an error with its code, status and message, in @tus/server shape too', () => {
    const e = appError('TOO_MANY_UPLOADS', { limit: 3 });
    expect(e).toMatchObject({ code: 'TOO_MANY_UPLOADS', status: 429, status_code: 429 });
    expect(e.message).toBe('You have 3 unfinished uploads, the most allowed at once: finish or delete one, then retry');
    expect(e.body).toBe(`${e.message}\n`);
    // The one code whose status is chosen by its hook.
    expect(appError('HOOK_REJECTED', { status: 451, reason: 'no' })).toMatchObject({ status: 451, message: 'no' });
  });
});
