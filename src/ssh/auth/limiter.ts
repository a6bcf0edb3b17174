/**
 * Failed authentication attempts per client address in a fixed window: past
 * `maxFailures`, every attempt from that address is refused until the window
 * ends, however good its key. Tracks at most `maxTracked` addresses, so a
 * spray from many addresses cannot grow it without bound.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { failures: number; resetAt: number }>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly maxTracked = 10_000,
  ) {}

  blocked(address: string, now = Date.now()): boolean {
    const window = this.windows.get(address);
    if (!window) return false;
    if (window.resetAt <= now) {
      this.windows.delete(address);
      return false;
    }
    return window.failures >= this.maxFailures;
  }

  recordFailure(address: string, now = Date.now()): void {
    const window = this.windows.get(address);
    if (window && window.resetAt > now) {
      window.failures++;
      return;
    }
    this.windows.delete(address);
    if (this.windows.size >= this.maxTracked) this.prune(now);
    this.windows.set(address, { failures: 1, resetAt: now + this.windowMs });
  }

  private prune(now: number): void {
    for (const [address, window] of this.windows) {
      if (window.resetAt <= now) this.windows.delete(address);
    }
    // Still full: forget the oldest (Maps iterate in insertion order).
    for (const address of this.windows.keys()) {
      if (this.windows.size < this.maxTracked) break;
      this.windows.delete(address);
    }
  }
}
