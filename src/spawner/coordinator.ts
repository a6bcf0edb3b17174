import type { Failure, ProgressEvent } from '../core/berth.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import { SpawnLeases } from '../store/spawnLeases.js';

/** The right to spawn one user's berth, held by one gateway at a time. */
export interface SpawnLease {
  /** The fencing token the runtime writes into the berth's labels; undefined where one gateway alone spawns. */
  readonly generation: number | undefined;
  /** Whether this gateway still holds the lease: asked just before the runtime creates anything. */
  held(): Promise<boolean>;
  /** The spawn's progress so far, for gateways following it (written soon, not at once). */
  progress(events: readonly ProgressEvent[]): void;
  /** The spawn ended ready or failed, or (null) was given up unfinished, so another gateway may take it over at once. */
  end(state: 'ready' | 'failed' | null, events: readonly ProgressEvent[], failure: Failure | null): Promise<void>;
}

/** How another gateway's spawn ended for one following it. */
export type FollowOutcome =
  | { kind: 'ready' }
  | { kind: 'failed'; failure: Failure }
  /** Nobody holds the lease any more (its holder gave up or died): take it. */
  | { kind: 'free' }
  /** The follower was told to stop following (its berth is being stopped). */
  | { kind: 'abandoned' };

/**
 * Single flight for spawns: in one process (SQLite: one gateway) or across
 * gateways sharing a PostgreSQL store. The spawner asks for the lease; with
 * it, it spawns; without it, it follows the holder's spawn and takes the
 * lease over when the holder lets it lapse.
 */
export interface SpawnCoordinator {
  /** The lease, or null when another gateway holds it. */
  acquire(user: string): Promise<SpawnLease | null>;
  /** Relays the holder's progress (all but its final event) until its spawn ends or its lease is free. */
  follow(user: string, relay: (event: ProgressEvent) => void, abandoned: () => boolean): Promise<FollowOutcome>;
  /** Gives up the leases this gateway holds, so other gateways finish those spawns without waiting for expiry. */
  close(): Promise<void>;
}

const ALWAYS_HELD: SpawnLease = {
  generation: undefined,
  held: () => Promise.resolve(true),
  progress: () => undefined,
  end: () => Promise.resolve(),
};

/** One gateway: the spawner's per-user transition chain already is the single flight, so the lease is a constant and costs nothing. */
export class InProcessSpawnCoordinator implements SpawnCoordinator {
  acquire(): Promise<SpawnLease> {
    return Promise.resolve(ALWAYS_HELD);
  }

  follow(): Promise<FollowOutcome> {
    return Promise.resolve({ kind: 'free' });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface StoreSpawnCoordinatorOptions {
  /** How long a lease lasts unless renewed: how soon another gateway takes over the spawn of one that died. */
  ttlMs: number;
  /** How often the holder renews it (well within ttlMs). */
  renewMs: number;
  /** How often a follower reads the holder's progress. */
  pollMs: number;
  logger: Logger;
}

export const STORE_LEASE_TIMING = { ttlMs: 10_000, renewMs: 2_000, pollMs: 200 } as const;

/** Several gateways: the lease is a row of spawn_leases (../store/spawnLeases.ts), renewed while the spawn runs. */
export class StoreSpawnCoordinator implements SpawnCoordinator {
  private readonly held = new Set<StoreLease>();

  constructor(
    private readonly leases: SpawnLeases,
    /** This gateway, as the holder column names it. */
    private readonly holder: string,
    private readonly options: StoreSpawnCoordinatorOptions,
  ) {}

  async acquire(user: string): Promise<SpawnLease | null> {
    const generation = await this.leases.take(user, this.holder, this.options.ttlMs, Date.now());
    if (generation === null) return null;
    const lease = new StoreLease(this.leases, user, generation, this.options, () => this.held.delete(lease));
    this.held.add(lease);
    return lease;
  }

  async follow(user: string, relay: (event: ProgressEvent) => void, abandoned: () => boolean): Promise<FollowOutcome> {
    let generation = -1;
    let relayed = 0;
    for (;;) {
      if (abandoned()) return { kind: 'abandoned' };
      const row = await this.leases.read(user);
      if (row === null) return { kind: 'free' };
      if (row.generation !== generation) {
        // A takeover starts its progress afresh; this gateway's page carries on from the new holder's first event.
        generation = row.generation;
        relayed = 0;
      }
      for (; relayed < row.progress.length; relayed++) {
        const event = row.progress[relayed] as ProgressEvent;
        if (event.step !== 'ready' && event.step !== 'failed') relay(event);
      }
      if (row.state === 'ready') return { kind: 'ready' };
      if (row.state === 'failed' && row.failure !== null) return { kind: 'failed', failure: row.failure };
      if (row.expiresAt <= Date.now()) return { kind: 'free' };
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.held].map((lease) => lease.end(null, [], null)));
  }
}

class StoreLease implements SpawnLease {
  private readonly timer: NodeJS.Timeout;
  private events: readonly ProgressEvent[] = [];
  private lost = false;
  private ended = false;
  private writeSoon: NodeJS.Timeout | null = null;

  constructor(
    private readonly leases: SpawnLeases,
    private readonly user: string,
    readonly generation: number,
    private readonly options: StoreSpawnCoordinatorOptions,
    private readonly forget: () => void,
  ) {
    this.timer = setInterval(() => void this.renew(), options.renewMs);
    this.timer.unref();
  }

  async held(): Promise<boolean> {
    return this.renew();
  }

  progress(events: readonly ProgressEvent[]): void {
    this.events = events;
    // Events of one step come in bursts; one write carries them all.
    this.writeSoon ??= setTimeout(() => {
      this.writeSoon = null;
      void this.renew();
    }, 20);
  }

  async end(state: 'ready' | 'failed' | null, events: readonly ProgressEvent[], failure: Failure | null): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    if (this.writeSoon !== null) clearTimeout(this.writeSoon);
    this.forget();
    try {
      if (state === null) await this.leases.abandon(this.user, this.generation);
      else if (!(await this.leases.finish(this.user, this.generation, state, events, failure))) {
        this.options.logger.warn({ user: this.user, generation: this.generation }, 'a spawn ended after its lease was taken over; the newer holder decides');
      }
    } catch (err) {
      // Followers then see the lease lapse and take over: slower, never wrong.
      this.options.logger.warn({ err, user: this.user }, 'could not end the spawn lease; it lapses by itself');
    }
  }

  private async renew(): Promise<boolean> {
    if (this.lost || this.ended) return !this.lost && !this.ended;
    try {
      const still = await this.leases.renew(this.user, this.generation, this.options.ttlMs, Date.now(), this.events);
      if (!still) {
        this.lost = true;
        this.options.logger.warn({ user: this.user, generation: this.generation }, 'lost the spawn lease to another gateway');
      }
      return still;
    } catch (err) {
      // Not renewed this time; the lease stands until it lapses, and held() says no so nothing is created blind.
      this.options.logger.warn({ err, user: this.user }, 'could not renew the spawn lease');
      return false;
    }
  }
}

/** The store decides: SQLite is one gateway's, PostgreSQL may be shared. */
export function coordinatorFor(store: Store, gateway: string, logger: Logger): SpawnCoordinator {
  return store.dialect === 'postgres'
    ? new StoreSpawnCoordinator(new SpawnLeases(store.db), gateway, { ...STORE_LEASE_TIMING, logger })
    : new InProcessSpawnCoordinator();
}
