import type pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { Store } from './store.js';

/** Whether this gateway is the one of those on the store that does a job only one may do. */
export interface Leadership {
  isLeader(): boolean;
  close(): Promise<void>;
}

/** SQLite: the one gateway leads. */
export const SOLE_LEADER: Leadership = { isLeader: () => true, close: () => Promise.resolve() };

/** How often a follower tries for the lock, and the leader proves its connection alive (and how long that may take). */
const TRY_EVERY_MS = 2_000;
const HEARTBEAT_TIMEOUT_MS = 2_000;

/**
 * Leadership as a session advisory lock on a dedicated PostgreSQL
 * connection: the lock lives exactly as long as the connection, so a leader
 * that dies (or loses the store) lets it go, and another gateway trying
 * every TRY_EVERY_MS takes it within seconds. A leader whose heartbeat goes
 * unanswered stops leading at once, before the server has noticed.
 */
export class AdvisoryLockLeader implements Leadership {
  private client: pg.Client | null = null;
  private leading = false;
  private busy = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    /** Any number all gateways agree on for this job. */
    private readonly lock: number,
    /** What is led, for the connection's name and the log: "culler". */
    private readonly job: string,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.tick(), TRY_EVERY_MS);
    this.timer.unref();
    void this.tick();
  }

  isLeader(): boolean {
    return this.leading;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    // Ending the connection hands the lock on at once.
    this.drop(this.client, null);
  }

  private async tick(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      const client = this.client ?? (await this.connect());
      if (client === null) return;
      if (this.leading) {
        await withinMs(client.query('select 1'), HEARTBEAT_TIMEOUT_MS);
        return;
      }
      const result = await withinMs(client.query<{ got: boolean }>('select pg_try_advisory_lock($1) as got', [this.lock]), HEARTBEAT_TIMEOUT_MS);
      if (result.rows[0]?.got === true && this.client === client && !this.closed) {
        this.leading = true;
        this.logger.info({ job: this.job }, `this gateway now runs the ${this.job}`);
      }
    } catch (err) {
      this.drop(this.client, err);
    } finally {
      this.busy = false;
    }
  }

  private async connect(): Promise<pg.Client | null> {
    const client = this.store.dedicatedClient(`${this.job} leader`);
    client.on('error', (err) => this.drop(client, err));
    client.on('end', () => this.drop(client, new Error('the connection ended')));
    this.client = client;
    await client.connect();
    return this.client === client ? client : null;
  }

  private drop(client: pg.Client | null, err: unknown): void {
    if (client === null || this.client !== client) return;
    this.client = null;
    if (this.leading && err !== null) {
      this.logger.warn({ job: this.job, reason: err instanceof Error ? err.message : String(err) }, `lost the store connection that made this gateway run the ${this.job}; another gateway takes over`);
    }
    this.leading = false;
    client.end().catch(() => undefined);
  }
}

async function withinMs<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The culler's leader among gateways on the store. */
const CULLER_LOCK = 0x62637567; // "bcug"

export function cullerLeadership(store: Store, logger: Logger): Leadership {
  return store.dialect === 'postgres' ? new AdvisoryLockLeader(store, CULLER_LOCK, 'culler', logger) : SOLE_LEADER;
}
