/** What `waitFor` returns: the value of `check` once it is truthy. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

export type WaitOptions = {
  /** How long to wait before failing; generous, so that a busy machine does not fail a test. */
  timeoutMs?: number;
  /** How long to sleep between two checks. */
  intervalMs?: number;
  /** What is awaited, for the failure message; a function is read when the wait fails, to tell what was seen. */
  what?: string | (() => string);
};

/**
 * Calls `check` until it returns something truthy, and returns that: for a test
 * that waits for something to happen (a record to change, a webhook to arrive,
 * a process to be ready, a lock to be free). A fixed sleep is too long on a
 * quiet machine and too short on a busy one.
 * Fails with `timed out after <timeoutMs> ms waiting for <what>`; an error
 * thrown by `check` ends the wait at once.
 * Not for a wait whose length is what a test is about (an expiry, a client's
 * silence, "nothing happens for a while"): that one stays a fixed time.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 20, what = 'a condition' }: WaitOptions = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, left)));
  }
}

/**
 * Lets `ms` pass, for a wait whose length is itself what the test is about: an
 * expiry or TTL must run out, a client stays silent, nothing may happen in a
 * window. Say at the call why a fixed time is right there; to wait for
 * something to happen, use `waitFor`.
 */
export function elapse(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
