import type { Logger } from '../log/logger.js';
import { SOLE_LEADER, type Leadership } from '../store/leader.js';

export interface CullTarget {
  /** Takes in the activity other gateways saw, so a pass culls on the newest of all. */
  refreshActivity(): Promise<void>;
  idleSince(cutoff: number): string[];
  stop(user: string, why: string): Promise<void>;
}

/**
 * Stops berths with no activity for `stopAfterSeconds`, checking every
 * `checkEverySeconds`, on the one gateway that leads (several share a
 * store). A pass reads the clocks in memory, after one read of the other
 * gateways' from the store, so it stays cheap with thousands of berths; the
 * stops themselves run concurrently.
 */
export class Culler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly target: CullTarget,
    private readonly settings: { stopAfterSeconds: number; checkEverySeconds: number },
    private readonly logger: Logger,
    private readonly leadership: Leadership = SOLE_LEADER,
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
    if (!this.leadership.isLeader()) return [];
    try {
      await this.target.refreshActivity();
    } catch (err) {
      // Culling on this gateway's clocks alone could stop a berth in use through another.
      this.logger.warn({ err }, 'could not read the other gateways\' activity; no idle berth is stopped until it can');
      return [];
    }
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
    await this.leadership.close();
  }
}
