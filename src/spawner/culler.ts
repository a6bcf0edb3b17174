import type { Logger } from '../log/logger.js';
import { SOLE_LEADER, type Leadership } from '../store/leader.js';

export interface CullTarget {
  /** Takes in the activity other gateways saw, so a pass culls on the newest of all. */
  refreshActivity(): Promise<void>;
  /** Berths to stop (ready or paused) idle since before `cutoff`; with `only: 'ready'`, those to pause. */
  idleSince(cutoff: number, only?: 'ready'): string[];
  stop(user: string, why: string): Promise<void>;
  readonly canPause: boolean;
  /** Freezes the idle berth; false when it was left running (see Spawner.pause). */
  pause(user: string): Promise<boolean>;
}

export interface CullSettings {
  stopAfterSeconds: number;
  /** null: never pause; else pause berths idle this long (when shorter than stopAfterSeconds and the runtime can). */
  pauseAfterSeconds?: number | null;
  checkEverySeconds: number;
}

/**
 * Pauses berths with no activity for `pauseAfterSeconds` (where the runtime
 * can; else they keep running) and stops those idle for `stopAfterSeconds`
 * (paused or not, counted from the last activity), checking every
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
    private readonly settings: CullSettings,
    private readonly logger: Logger,
    private readonly leadership: Leadership = SOLE_LEADER,
  ) {}

  start(): void {
    if (this.pauseSeconds() === null && (this.settings.pauseAfterSeconds ?? null) !== null) {
      this.logger.warn(
        { pauseAfterSeconds: this.settings.pauseAfterSeconds, stopAfterSeconds: this.settings.stopAfterSeconds },
        this.target.canPause
          ? 'idle.pauseAfterSeconds is not shorter than idle.stopAfterSeconds, so idle berths are only stopped; lower it to pause them first'
          : 'this runtime cannot pause berths, so idle.pauseAfterSeconds is ignored and idle berths are only stopped',
      );
    }
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.pass()
        .then(() => undefined)
        .finally(() => (this.running = null));
    }, this.settings.checkEverySeconds * 1000);
    this.timer.unref();
  }

  /** The idle time after which berths are paused, or null when they are not. */
  private pauseSeconds(): number | null {
    const { pauseAfterSeconds, stopAfterSeconds } = this.settings;
    return pauseAfterSeconds != null && pauseAfterSeconds < stopAfterSeconds && this.target.canPause ? pauseAfterSeconds : null;
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
    const pauseSeconds = this.pauseSeconds();
    if (pauseSeconds !== null) {
      const paused = await Promise.all(
        this.target.idleSince(now - pauseSeconds * 1000, 'ready').map((user) =>
          this.target.pause(user).catch((err) => {
            this.logger.warn({ err, user }, 'idle pause failed; will retry next pass');
            return false;
          }),
        ),
      );
      const count = paused.filter(Boolean).length;
      if (count > 0) this.logger.info({ paused: count }, 'paused idle berths');
    }
    return idle;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.leadership.close();
  }
}
