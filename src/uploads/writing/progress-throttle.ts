/**
 * Records progress at most once per `intervalMs` while bytes stream in: the
 * first time at once, later ones no sooner than the interval allows, and the
 * latest offset always recorded in the end (by a timer if the stream pauses,
 * or by `flush`). So a PATCH costs Redis a constant number of calls plus at
 * most one per interval, however many chunks it covers.
 */
export class ProgressThrottle<T> {
  private lastAt = Number.NEGATIVE_INFINITY;
  private pending: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> = Promise.resolve();
  private last: { offset: number; result: Promise<T> } | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly record: (offset: number) => Promise<T>,
    private readonly onLateError: (error: unknown) => void,
  ) {}

  /** Bytes [0, offset) are stored. */
  async stored(offset: number): Promise<void> {
    const wait = this.lastAt + this.intervalMs - Date.now();
    if (wait <= 0) {
      this.cancelTimer();
      await this.now(offset);
      return;
    }
    this.pending = offset;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const latest = this.pending;
      if (latest !== undefined) this.now(latest).catch(this.onLateError);
    }, wait);
  }

  /** Stops the timer and waits for any call in flight; the caller records the final offset itself. */
  async flush(): Promise<void> {
    this.cancelTimer();
    await this.inFlight.catch(() => {});
  }

  /**
   * What recording `offset` answered, when it is the last offset recorded and
   * that succeeded (so the caller need not record it again); else undefined.
   */
  async recorded(offset: number): Promise<T | undefined> {
    if (this.last?.offset !== offset) return undefined;
    return this.last.result.catch(() => undefined);
  }

  private now(offset: number): Promise<T> {
    this.pending = undefined;
    this.lastAt = Date.now();
    const result = this.record(offset);
    this.last = { offset, result };
    this.inFlight = result;
    return result;
  }

  private cancelTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
}
