/**
 * Bounds how many spawns run at once across all users; the rest wait in
 * arrival order and learn their place so the loading page can say so.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Resolves with the release function; `onQueued` is called with the queue position when it must wait. */
  async acquire(onQueued: (position: number) => void): Promise<() => void> {
    if (this.active >= this.limit) {
      onQueued(this.waiting.length + 1);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `active` is unchanged.
      if (next) next();
      else this.active--;
    };
  }

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }
}
