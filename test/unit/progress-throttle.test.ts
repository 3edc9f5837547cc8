import { describe, expect, it } from 'vitest';
import { ProgressThrottle } from '../../src/uploads/writing/progress-throttle.js';

describe('progress throttle', () => {
  it('records at once, then at most once per interval, and says what the last record answered', async () => {
    const calls: number[] = [];
    const throttle = new ProgressThrottle(
      60_000,
      async (offset) => {
        calls.push(offset);
        return { offset };
      },
      () => {},
    );
    await throttle.stored(5);
    await throttle.stored(10); // within the interval: waits for the timer (or the caller's final record)
    await throttle.flush();
    expect(calls).toEqual([5]);
    // The writer's final record of offset 5 can reuse this answer; offset 10 must be recorded.
    expect(await throttle.recorded(5)).toEqual({ offset: 5 });
    expect(await throttle.recorded(10)).toBeUndefined();
  });

  it('does not offer a record that failed', async () => {
    const throttle = new ProgressThrottle(
      0,
      async () => {
        throw new Error('Redis is down');
      },
      () => {},
    );
    await throttle.stored(5).catch(() => {});
    await throttle.flush();
    expect(await throttle.recorded(5)).toBeUndefined();
  });
});
