const DAY_MS = 24 * 3600 * 1000;
/** Keys held at once: a flood of distinct visitors empties the set (repeating some events) rather than growing it without bound. */
const MAX_KEYS = 100_000;

/**
 * Answers "is this the first time today?" for keys such as a visitor and
 * port, from memory: what keeps first-per-day audit events (a token used, a
 * shared port visited, a header-mode sign-in) off the store on every request.
 * The set is emptied when the (UTC) day changes, so it holds at most one
 * day's keys; after a restart a key counts once more, which only repeats an
 * event, never loses one.
 */
export class DailyOnce {
  private day = -1;
  private readonly seen = new Set<string>();

  constructor(private readonly now: () => number = Date.now) {}

  first(key: string): boolean {
    const day = Math.floor(this.now() / DAY_MS);
    if (day !== this.day || this.seen.size >= MAX_KEYS) {
      this.day = day;
      this.seen.clear();
    }
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}
