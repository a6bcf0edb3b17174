/** Addresses tracked at once; a flood from many addresses empties the table (letting some through again) rather than growing it. */
const MAX_SOURCES = 10_000;

/**
 * How many refusals one address may add to the audit log per window. Anyone
 * can make the gateway refuse them (a forged header, a wrong key, a foreign
 * Origin) as fast as they can send, so without a bound the audit table is a
 * disk an outsider can fill; within it, an attack still shows plainly.
 */
export class RefusalBudget {
  private windowStart = 0;
  private readonly used = new Map<string, number>();

  constructor(
    private readonly perWindow: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Whether one more refusal from `source` is kept. */
  take(source: string): boolean {
    const at = this.now();
    if (at - this.windowStart >= this.windowMs || this.used.size >= MAX_SOURCES) {
      this.windowStart = at;
      this.used.clear();
    }
    const used = this.used.get(source) ?? 0;
    if (used >= this.perWindow) return false;
    this.used.set(source, used + 1);
    return true;
  }
}
