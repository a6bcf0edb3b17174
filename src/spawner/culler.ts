import type { Logger } from '../log/logger.js';

export interface CullTarget {
  idleSince(cutoff: number): string[];
  stop(user: string, why: string): Promise<void>;
}

/**
 * Stops berths with no activity for `stopAfterSeconds`, checking every
 * `checkEverySeconds`. A pass only reads in-memory clocks, so it stays cheap
 * with thousands of berths; the stops themselves run concurrently.
 */
export class Culler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly target: CullTarget,
    private readonly settings: { stopAfterSeconds: number; checkEverySeconds: number },
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.pass()
        .then(() => undefined)
        .finally(() => (this.running = null));
    }, this.settings.checkEverySeconds * 1000);
    this.timer.unref();
  }

  /** One pass; returns the users it stopped. */
  async pass(now = Date.now()): Promise<string[]> {
    const idle = this.target.idleSince(now - this.settings.stopAfterSeconds * 1000);
    await Promise.all(
      idle.map((user) =>
        this.target.stop(user, 'idle').catch((err) => this.logger.warn({ err, user }, 'idle stop failed; will retry next pass')),
      ),
    );
    if (idle.length > 0) this.logger.info({ stopped: idle.length }, 'culled idle berths');
    return idle;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
